// log.h - the one logging entry point for every layer; the front door installs the sink
// (stderr in foreground mode, syslog as a daemon, a buffer in tests).
// Must not: block for long or throw; log lines must already be sanitised by the caller.
#pragma once

#include <functional>
#include <string_view>

namespace mxguard {

enum class LogLevel { Debug, Info, Warning, Error };

using LogSink = std::function<void(LogLevel, std::string_view)>;

void setLogSink(LogSink sink);  // not thread-safe: install before threads start
void logMessage(LogLevel level, std::string_view message);
const char* toString(LogLevel level);

}  // namespace mxguard
