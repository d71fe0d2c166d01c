// message_record.h - what the daemon records of one finished transaction (opt-in, [record]
// in mxguard.conf) so `mxguard-check --replay` can run it through another policy: the envelope,
// optionally the header fields, never the body; and the verdict it got.
// Must not: block the data plane for long (implementations append one line under a mutex).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/connection.h"
#include "core/dmarc_facts.h"

namespace mxguard {

struct MessageRecord {
  std::string time;  // UTC, RFC 3339
  std::string queueId;
  std::string clientAddress, clientName, helo;
  bool heloSeen = false;
  std::string authUser;
  std::string sender;
  std::vector<std::string> recipients;  // every RCPT TO the client gave, in order
  std::vector<Header> headers;          // only when the recorder asks for them
  std::string action, reason, reply;    // what mxguard decided: "reject", "rbl.listed", "554 ..."
  std::optional<DmarcFacts> dmarc;      // the DMARC evaluation, if the dmarc stage ran
};

class MessageRecorder {
 public:
  virtual ~MessageRecorder() = default;
  virtual bool wantsHeaders() const = 0;
  virtual void record(const MessageRecord& r) = 0;  // thread-safe, never throws
};

using MessageRecorderSharedPtr = std::shared_ptr<MessageRecorder>;

}  // namespace mxguard
