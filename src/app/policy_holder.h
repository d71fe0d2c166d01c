// policy_holder.h - the current policy snapshot: connections take one at connect and keep it;
// a reload swaps in a new one only if it loaded completely.
// Must not: ever hold a half-built policy, or block connections while a reload is loading.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "core/policy.h"

namespace mxguard::app {

class PolicyHolder {
 public:
  explicit PolicyHolder(PolicySharedPtr initial) : current_(std::move(initial)) {}

  PolicySharedPtr snapshot() const {
    std::lock_guard guard(mutex_);
    return current_;
  }

  // Runs `load` (which throws on any error) outside the lock; swaps on success. Returns "" on
  // success, else the error text, and the old policy keeps serving.
  std::string reload(const std::function<PolicySharedPtr()>& load);

 private:
  mutable std::mutex mutex_;
  PolicySharedPtr current_;
};

}  // namespace mxguard::app
