// smtp_probe.h - the callout client: asks one mail server whether it would accept mail for an
// address (banner, EHLO/HELO, MAIL FROM:<verify sender>, RCPT TO:<address>, optionally a random
// local part to detect accept-all servers, QUIT), with a deadline on every step and on the whole.
// Must not: send DATA, or decide policy: it reports what the server said as a typed outcome.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smtp/smtp_connection.h"

namespace mxguard::smtp {

enum class ProbeOutcome {
  Accepted,           // 2xx to RCPT TO
  Rejected,           // 5xx to RCPT TO: the address does not exist
  NullSenderRefused,  // 5xx to MAIL FROM:<> (RFC 5321 4.5.5 says servers must accept it)
  TempFailed,         // 4xx anywhere, or a 5xx banner/EHLO: no answer about the address now
  Unreachable,        // connect failed, timed out, dropped, or garbage
};

const char* toString(ProbeOutcome o);

struct ProbeOptions {
  std::string heloName = "localhost";
  std::string verifySender;  // "" = the null sender <>
  int port = 25;
  std::chrono::milliseconds connectTimeout{10000};
  std::chrono::milliseconds commandTimeout{30000};  // each reply
  std::chrono::milliseconds totalTimeout{60000};    // the whole dialogue
  std::string randomLocalPart;  // non-empty: also probe this local part at the same domain
};

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::Unreachable;
  std::string host;     // MX host name
  std::string address;  // the IP address talked to
  std::string command;  // where it ended: "connect", "banner", "EHLO", "MAIL FROM", "RCPT TO"
  SmtpReply reply;      // the server's reply at that step (code 0 if none)
  std::string error;    // for Unreachable
  std::optional<bool> randomAccepted;   // accept-all probe asked: was the random address accepted?
  std::vector<std::string> transcript;  // "> EHLO mx.example.net", "< 250 ..." for traces
};

class SmtpProbe {
 public:
  virtual ~SmtpProbe() = default;
  virtual ProbeResult probe(const std::string& host, const std::string& address,
                            const std::string& recipient, const ProbeOptions& options) const;
};

using SmtpProbeSharedPtr = std::shared_ptr<const SmtpProbe>;

}  // namespace mxguard::smtp
