// log.h - the one logging entry point for every layer; the front door installs the sink
// (stderr in foreground mode, syslog as a daemon, a buffer in tests).
// Must not: block for long or throw; log lines must already be sanitised by the caller.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace mxguard {

enum class LogLevel { Debug, Info, Warning, Error };

using LogSink = std::function<void(LogLevel, std::string_view)>;

void setLogSink(LogSink sink);  // not thread-safe: install before threads start
void logMessage(LogLevel level, std::string_view message);
const char* toString(LogLevel level);

// Once per incident: logs `message` for `key` at most once per `window`; the next line that
// gets through says how many were held back ("(12 more since)"). For what repeats on every
// transaction while a dependency is down; the per-transaction summary line keeps the detail.
void logOncePer(const std::string& key, std::chrono::seconds window, LogLevel level,
                std::string_view message);
// Tests only: forget which keys logOncePer has seen (a test that expects the first line must not
// depend on what ran before it in the same process).
void resetLogOncePerForTests();

}  // namespace mxguard
