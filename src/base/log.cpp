// log.cpp - default sink writes to stderr; front doors replace it.
// Must not: allocate in a way that can throw out of logMessage.
#include "base/log.h"

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

namespace mxguard {
namespace {
LogSink& sink() {
  static LogSink s = [](LogLevel level, std::string_view message) {
    std::fprintf(stderr, "mxguard: %s: %.*s\n", toString(level), static_cast<int>(message.size()),
                 message.data());
  };
  return s;
}
}  // namespace

void setLogSink(LogSink s) {
  sink() = std::move(s);
}

void logMessage(LogLevel level, std::string_view message) {
  try {
    if (sink()) sink()(level, message);
  } catch (...) {
    // Logging must never take a transaction down.
  }
}

namespace {
struct OncePer {
  struct Incident {
    std::chrono::steady_clock::time_point last;
    size_t held = 0;
  };
  std::mutex mutex;
  std::map<std::string, Incident> incidents;  // one entry per distinct key
};
OncePer& oncePer() {
  static OncePer o;
  return o;
}
}  // namespace

void resetLogOncePerForTests() {
  std::lock_guard guard(oncePer().mutex);
  oncePer().incidents.clear();
}

void logOncePer(const std::string& key, std::chrono::seconds window, LogLevel level,
                std::string_view message) {
  using Incident = OncePer::Incident;
  auto& mutex = oncePer().mutex;
  auto& incidents = oncePer().incidents;
  size_t held = 0;
  {
    std::lock_guard guard(mutex);
    auto now = std::chrono::steady_clock::now();
    auto [it, fresh] = incidents.try_emplace(key, Incident{now, 0});
    if (!fresh && now - it->second.last < window) {
      ++it->second.held;
      return;
    }
    held = it->second.held;
    it->second = Incident{now, 0};
  }
  if (held == 0) {
    logMessage(level, message);
  } else {
    logMessage(level, std::string(message) + " (" + std::to_string(held) + " more since)");
  }
}

const char* toString(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Error:
      return "error";
  }
  return "?";
}

}  // namespace mxguard
