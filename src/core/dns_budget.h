// dns_budget.h - how long one message may wait for DNS in total, across every stage.
// Each stage's `timeout` bounds its own lookups; when DNS is slow rather than down those
// deadlines add up (rbl, then helo, then spf...), so [engine] dns_budget caps the sum: once it
// is spent, lookups fail at once and each stage gives its on_failure answer.
// Must not: be shared between connections (it lives in the Connection).
#pragma once

#include <chrono>
#include <string>

namespace mxguard {

class DnsBudget {
 public:
  using Clock = std::chrono::steady_clock;

  void setLimit(std::chrono::milliseconds limit) { limit_ = limit; }  // 0: no budget

  // What a lookup with this stage deadline may wait now: the deadline, cut to what is left.
  std::chrono::milliseconds allow(std::chrono::milliseconds timeout) const;
  bool spent() const;
  void charge(Clock::duration waited) { spent_ += waited; }
  // A new message on the same connection starts with the whole budget again (the first message
  // also pays for the connection's connect and HELO lookups).
  void restart() { spent_ = Clock::duration::zero(); }

  // The lookup error once the budget is spent: "DNS budget of 10000 ms for this message spent".
  std::string spentError() const;

 private:
  std::chrono::milliseconds limit_{0};
  Clock::duration spent_{};
};

}  // namespace mxguard
