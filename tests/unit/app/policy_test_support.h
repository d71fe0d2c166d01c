// policy_test_support.h - what the app tests load policies with: a resolver that answers nothing,
// an in-memory store, and the first error a policy text gets.
#pragma once

#include <memory>
#include <string>

#include "app/policy_loader.h"
#include "config/config_error.h"
#include "fakes/fake_resolver.h"
#include "store/memory_store.h"

namespace mxguard::app {

inline PolicyLoadOptions options() {
  PolicyLoadOptions o;
  o.resolver = std::make_shared<testing::FakeResolver>();
  o.store = std::make_shared<store::MemoryStore>();
  o.ourHostname = "mx.example.net";
  return o;
}

// The ConfigError loading `text` (as p.conf) gives, or "no error".
inline std::string loadError(const std::string& text) {
  try {
    loadPolicyText(text, "p.conf", options());
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace mxguard::app
