// dialogue.h - replays one SMTP transaction through an Engine the way an MTA would, recording
// each command and the reply the client would see (MTA-style 2xx texts, the policy's 4xx/5xx).
// Must not: print anything (report.h does) or resolve anything itself (stages do).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/engine.h"

namespace mxguard::harness {

struct Transcript {
  std::string clientIp;
  std::string clientName;
  std::optional<std::string> helo;    // nullopt: no HELO/EHLO is sent
  std::optional<std::string> sender;  // nullopt: no MAIL FROM; "" = null sender
  std::vector<std::string> recipients;
  std::optional<std::string> message;  // raw RFC 5322 message; nullopt: no DATA
  std::string authUser;  // SASL login name, given with MAIL as the MTA's {auth_authen}; "" = none
  std::string ourHostname;
};

struct Step {
  std::string command;  // "EHLO mail.example.net", "RCPT TO:<a@b>"
  int code = 250;
  std::string enhanced;  // may be empty for 220/221/354
  std::string text;
  std::vector<std::string> lines;  // the reply as the client sees it (several for a long reply)
  std::string phase;               // phase whose stage decided, for rejections
  std::string stage;
  std::string reason;
};

struct Outcome {
  std::vector<Step> steps;
  std::optional<Step> firstRejection;  // first non-2xx/3xx reply
  std::string action;                  // accept / reject / tempfail / quarantine
  std::vector<TraceEntry> trace;
  std::vector<std::string> log;      // what the daemon would have logged
  std::vector<Header> addedHeaders;  // what the milter would insert at end of message
  std::vector<std::pair<std::string, int>> removedHeaders;  // ... and delete (name, index)
};

// Builds the Connection's connection from the transcript, runs every step.
Outcome runDialogue(PolicySharedPtr policy, const Transcript& t);

}  // namespace mxguard::harness
