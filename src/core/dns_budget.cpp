// dns_budget.cpp - see dns_budget.h.
#include "core/dns_budget.h"

#include <algorithm>

namespace mxguard {

std::chrono::milliseconds DnsBudget::allow(std::chrono::milliseconds timeout) const {
  if (limit_.count() <= 0) return timeout;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(limit_ - spent_);
  return std::clamp(left, std::chrono::milliseconds(0), timeout);
}

bool DnsBudget::spent() const {
  return limit_.count() > 0 && spent_ >= limit_;
}

std::string DnsBudget::spentError() const {
  return "DNS budget of " + std::to_string(limit_.count()) + " ms for this message spent";
}

}  // namespace mxguard
