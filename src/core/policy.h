// policy.h - one loaded policy: engine settings plus the ordered stages, immutable once built and
// shared (shared_ptr<const Policy>) by every connection that started under it.
// Must not: be modified after load; SIGHUP builds a new Policy and swaps the pointer.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/phase.h"
#include "core/access.h"
#include "core/incidents.h"
#include "core/ip_address.h"
#include "core/judging.h"
#include "core/message_record.h"
#include "core/reply.h"
#include "core/resolver.h"
#include "core/stage.h"

namespace mxguard {

struct StageEntry {
  StageSharedPtr stage;
  PhaseSet phases;  // phases the registry allows this stage to run in
  StageMode mode = StageMode::Enforce;
  FailureMode onFailure = FailureMode::Tempfail;
  std::chrono::milliseconds dnsTimeout{5000};  // deadline for this stage's prefetched lookups
  // Counting stages (behaviour, ratelimit) run even when an earlier rejection is held to RCPT.
  bool runsWhileRejected = false;
};

struct EngineSettings {
  // Postfix smtpd_delay_reject: connect/HELO/MAIL rejections are sent at RCPT.
  bool delayReject = true;
  // Postfix soft_bounce: every 5xx goes out as 4xx (for trying a new policy safely).
  bool softBounce = false;
  // Recipients whose local part is listed here are accepted whatever the stages said.
  std::vector<std::string> exemptLocalParts{"postmaster", "abuse"};
  std::vector<Cidr> whitelistClients;  // these clients skip every stage
  bool whitelistAuthenticated = true;  // so do clients that authenticated ({auth_authen})
  // RFC 8601: one Authentication-Results field at end of message with what the stages recorded;
  // fields that carry this authserv-id already are forgeries and are removed (section 5).
  bool addAuthenticationResults = true;
  std::string authservId;  // empty: the MTA's host name (Client::ourHostname)
  // At most this many forgeries are removed; a message with more is refused (550 5.7.1) at end
  // of headers: so many are no accident, and every deletion is work for the MTA.
  size_t maxForgedAuthenticationResults = 20;
  // The most one message waits for DNS over all stages (DnsBudget); 0 = only each stage's own.
  std::chrono::milliseconds dnsBudget{0};
};

// A [class NAME] of the policy: the recipients it names and how it judges for them
// (Postfix's restriction classes, in mxguard's words).
struct PolicyClass {
  Judging judging;  // judging.name is the class's name
  std::vector<std::shared_ptr<const RecipientSet>> recipients;
};

struct Policy {
  std::string source;  // file it was loaded from, for logs
  EngineSettings engine;
  std::vector<StageEntry> stages;
  // The policy's own judging, for the checks some class or access rule judges differently:
  // those are built in warn mode (so no stage stops early for a class that would not) and
  // judged here with the mode the policy gave them. Empty without classes.
  Judging judging;
  std::vector<PolicyClass> classes;  // a recipient's class is the first that names it
  std::vector<AccessCheck> access;   // [access] maps, in the order they are consulted
  // Classes or recipient access rules exist: what connect, HELO and MAIL found is kept and judged
  // again at RCPT for each recipient's class (and every stage runs in those phases).
  bool judgesPerRecipient = false;
  // The stages and checks ("rbl", "helo.non_fqdn") some class or access rule skips or softens
  // (warn, off, observe, on_failure = accept): after the policy's rejection by one of them, the
  // later stages still run for the classes; after any other, only the counting stages do.
  std::set<std::string, std::less<>> relaxable;
  dns::ResolverSharedPtr resolver;    // shared with stages; never null in a built policy
  MessageRecorderSharedPtr recorder;  // [record] in mxguard.conf; null = not recording
  // Where the engine reports dependency outages, and the time its connections read; the
  // process's own unless a test injects its own (so tests share nothing and run in any order).
  Incidents* incidents = &processIncidents();
  const Clock* clock = &systemClock();
};

using PolicySharedPtr = std::shared_ptr<const Policy>;

}  // namespace mxguard
