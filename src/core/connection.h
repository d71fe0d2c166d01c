// connection.h - everything known about one SMTP connection: its client, its current message, the
// counters and trace, and the DNS answers of each scope; built by a
// front door (milter adapter or harness) and read by stages; plus the per-stage trace.
// Must not: hold anything shared between connections (stages and policy are shared, this is not).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/phase.h"
#include "core/auth_results.h"
#include "core/dmarc_facts.h"
#include "core/dns_answers.h"
#include "core/dns_budget.h"
#include "core/ip_address.h"
#include "core/resolver.h"

namespace mxguard {

struct Client {
  std::string clientAddress;           // as the MTA reported it, normalised when parseable
  std::optional<IpAddress> clientIp;   // nullopt: the MTA gave no usable address
  std::string clientName = "unknown";  // the MTA's verified name ({client_name}), or "unknown"
  std::string clientPtr;               // the MTA's unverified PTR ({client_ptr}), may be empty
  std::string helo;                    // as sent, may be empty
  bool heloSeen = false;
  std::string authUser;                 // {auth_authen}; non-empty means authenticated
  std::string ourHostname;              // macro j / --hostname: forged-HELO check, log
  std::vector<IpAddress> ourAddresses;  // addresses a HELO literal must not claim
  // Connection-scope results (iprev) that go first into every message's Authentication-Results.
  std::vector<AuthResult> authResults;
};

struct Header {
  std::string name;
  std::string value;  // after the colon, one leading space removed (what libmilter passes)
  // The white space between the colon and `value` exactly as received (DKIM "simple" header
  // canonicalization needs it); " " when the front door cannot know.
  std::string leading = " ";
};

struct Message {
  std::string queueId;  // {i}, may be empty
  bool senderSeen = false;
  std::string sender;                   // without brackets; empty = null sender <>
  bool smtputf8 = false;                // MAIL FROM carried SMTPUTF8 (RFC 6531): UTF-8 headers OK
  std::vector<std::string> recipients;  // recipients the engine accepted
  std::vector<Header> headers;          // as received (bounded: see Engine::header)
  size_t headerCount = 0;               // all headers seen, including any not kept
  size_t bodyBytes = 0;
  std::vector<Header> addedHeaders;  // to be added at end of message (Authentication-Results...)
  // Fields to delete at end of message: name and its 1-based index among the fields of that
  // name (smfi_chgheader's numbering), e.g. forged Authentication-Results carrying our id.
  std::vector<std::pair<std::string, int>> removedHeaders;
  std::vector<AuthResult> authResults;  // spf, dkim, dmarc: written as one Authentication-Results
  std::optional<DmarcFacts> dmarc;      // the dmarc stage's evaluation, for the record
};

// What the Engine counts over one connection (behaviour checks read it; never reset by RSET).
struct SessionCounters {
  size_t heloCommands = 0;
  std::string previousHelo;        // the HELO name before the current one; empty if none
  size_t messages = 0;             // MAIL FROM commands, this one included
  size_t abortedTransactions = 0;  // RSET or aborted message (milter abort)
  size_t rejectedRecipients = 0;   // RCPT TO refused by a stage (4xx or 5xx)
};

// One line of the per-stage trace: "connect rbl listed zen.example.net=127.0.0.2 -> reject".
struct TraceEntry {
  Phase phase;
  std::string stage;    // "rbl", "engine"
  std::string outcome;  // reason without the stage prefix: "listed", "ok", "skip"
  std::string detail;
  std::string effect;  // "none", "reject", "reject_warning", "defer_if_permit", "delayed", ...
  // The recipient class that judged it, when not the policy itself ("finance"; see Judging).
  std::string lane = {};
};

// Per-stage, per-connection or per-message state (e.g. a DKIM verify handle): stages are shared
// and immutable, so what they must remember lives here and is freed on abort/close.
struct StageState {
  virtual ~StageState() = default;
};

class Connection {
 public:
  Client client;    // connection scope: who connected, HELO, authentication
  Message message;  // message scope: envelope, header fields, results; reset per message
  SessionCounters counters;
  std::vector<TraceEntry> trace;

  // Answers prefetched by the Engine for the current phase (every stage's queries issued at
  // once) and kept for their scope (DnsAnswers). Stages read them through cachedLookup();
  // misses are resolved live.
  DnsAnswers dnsAnswers;
  // Set by the Engine while only the stages that count despite a held rejection run (behaviour,
  // ratelimit): a rejected client must not drain buckets keyed on what it can forge.
  bool rejectionHeld = false;
  // What this message may still wait for DNS ([engine] dns_budget); cachedLookup() charges it.
  DnsBudget dnsBudget;

  // What stages read the time from (tests inject their own).
  const Clock& clock() const { return *clock_; }
  void setClock(const Clock& c) { clock_ = &c; }

  template <class T>
  T& messageState(const void* owner) {
    return stateIn<T>(messageState_, owner);
  }
  // The stage's message state if it made one (prefetch sees the Connection as const).
  template <class T>
  const T* findMessageState(const void* owner) const {
    auto it = messageState_.find(owner);
    return it == messageState_.end() ? nullptr : static_cast<const T*>(it->second.get());
  }
  template <class T>
  T& connectionState(const void* owner) {
    return stateIn<T>(connectionState_, owner);
  }
  void resetMessage() {  // RSET / end of message: the connection stays
    message = Message{};
    messageState_.clear();
    dnsAnswers.endMessage();
  }

 private:
  using StateMap = std::map<const void*, std::unique_ptr<StageState>>;
  template <class T>
  static T& stateIn(StateMap& map, const void* owner) {
    auto& slot = map[owner];
    if (!slot) slot = std::make_unique<T>();
    return static_cast<T&>(*slot);
  }
  StateMap messageState_;
  StateMap connectionState_;
  const Clock* clock_ = &systemClock();
};

}  // namespace mxguard
