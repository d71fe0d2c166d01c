// policy_holder.cpp - reload with keep-the-old-one-on-error semantics.
// Must not: let an exception from loading escape (the reload runs on the signal thread).
#include "app/policy_holder.h"

#include <exception>

namespace mxguard::app {

std::string PolicyHolder::reload(const std::function<PolicySharedPtr()>& load) {
  PolicySharedPtr fresh;
  try {
    fresh = load();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error while loading the policy";
  }
  if (!fresh) return "policy loader returned nothing";
  std::lock_guard guard(mutex_);
  current_ = std::move(fresh);
  return "";
}

}  // namespace mxguard::app
