// unbound_resolver.h - the Resolver on libunbound: one context and cache for the whole process,
// asynchronous queries answered on one event thread, callers waiting under their own deadline.
// Must not: send any query at construction (configuration checks run offline), or let a caller
// that gave up be touched by a late answer.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "core/resolver.h"

struct ub_ctx;
struct ub_result;

namespace mxguard::dns {

struct UnboundOptions {
  std::vector<std::string> forwarders;      // "host@port" or "host"; empty = own recursion
  std::vector<std::string> passLocalZones;  // built-in local zones the forwarders must answer
  // With forwarders: also hand the private and documentation reverse zones to them.
  bool forwardPrivateReverse = true;
};

class UnboundResolver : public Resolver {
 public:
  // Throws std::runtime_error naming what libunbound refused.
  static std::shared_ptr<UnboundResolver> create(const UnboundOptions& options);
  ~UnboundResolver() override;

  std::vector<LookupResult> lookupAll(const std::vector<Query>& queries,
                                      std::chrono::milliseconds timeout) override;

  struct Batch;
  struct Slot;

 private:
  UnboundResolver() = default;
  void eventLoop();
  void forget(Slot* slot);  // called by the callback once an answer has been delivered
  static void onAnswer(void* arg, int err, ::ub_result* result);

  ub_ctx* ctx_ = nullptr;
  int wakeup_[2] = {-1, -1};
  std::thread thread_;
  std::mutex slotsMutex_;
  std::unordered_set<Slot*> slots_;  // outstanding queries, freed at shutdown if never answered
};

// libunbound's built-in reverse zones for private and documentation ranges (RFC 1918, 5737,
// 3849, 4193, 6598, ...) that a site's own DNS may serve.
const std::vector<std::string>& privateReverseZones();

}  // namespace mxguard::dns
