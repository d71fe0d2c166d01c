// replay.h - `mxguard-check --replay FILE --policy NEW [--policy OLD]`: recorded transactions
// through one or two policies, and what would change ("these 37 of 10,000 would now be
// rejected, by these checks"), so an admin can tighten a policy without guessing.
// Must not: pretend to know what the recording lacks: bodies are never recorded (DKIM body
// hashes cannot verify in a replay) and DNS answers are today's, not those of the recording;
// hold the recording in memory (it is streamed: a replay of millions runs in constant memory).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/message_record.h"
#include "core/policy.h"

namespace mxguard::harness {

struct ReplayChange {
  MessageRecord record;
  std::string before, beforeReason;  // "accepted" | "rejected" | "deferred"
  std::string after, afterReason, afterReply;
};

struct ReplayReport {
  size_t total = 0;
  std::map<std::string, size_t> unchangedByVerdict;
  // "accepted -> rejected" -> reason -> count (the reason of the side that refuses)
  std::map<std::string, std::map<std::string, size_t>> changes;
  std::vector<ReplayChange> examples;  // the first few of each kind
};

// Runs records one at a time and keeps only the counts and the first few examples of each kind.
// `old` may be null: then the recorded verdicts are the baseline.
class Replayer {
 public:
  Replayer(PolicySharedPtr newPolicy, PolicySharedPtr oldPolicy, std::string ourHostname);
  void add(const MessageRecord& rec);
  const ReplayReport& report() const { return report_; }

 private:
  PolicySharedPtr new_, old_;
  std::string ourHostname_;
  ReplayReport report_;
};

std::string formatReplay(const ReplayReport& r, const std::string& file, const std::string& newName,
                         const std::string& oldName);

}  // namespace mxguard::harness
