// counters.cpp - a mutex-protected map; counting is rare enough (per decision) not to matter.
// Must not: throw to callers.
#include "base/counters.h"

#include <mutex>

namespace mxguard {
namespace {
std::mutex& lock() {
  static std::mutex m;
  return m;
}
std::map<std::string, uint64_t, std::less<>>& table() {
  static std::map<std::string, uint64_t, std::less<>> t;
  return t;
}
}  // namespace

void countEvent(std::string_view name, uint64_t by) {
  std::lock_guard guard(lock());
  auto it = table().find(name);
  if (it == table().end()) it = table().emplace(std::string(name), 0).first;
  it->second += by;
}

uint64_t counterValue(std::string_view name) {
  std::lock_guard guard(lock());
  auto it = table().find(name);
  return it == table().end() ? 0 : it->second;
}

std::map<std::string, uint64_t> countersSnapshot() {
  std::lock_guard guard(lock());
  return {table().begin(), table().end()};
}

}  // namespace mxguard
