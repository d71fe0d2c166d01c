// log.cpp - default sink writes to stderr; front doors replace it.
// Must not: allocate in a way that can throw out of logMessage.
#include "core/log.h"

#include <cstdio>
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
