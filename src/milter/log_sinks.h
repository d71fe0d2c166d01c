// log_sinks.h - where the daemon's log lines go: stderr (foreground) or syslog (mail facility).
// Must not: be installed after worker threads start (setLogSink is not thread-safe).
#pragma once

namespace mxguard::milter {

void logToStderr();
void logToSyslog();

}  // namespace mxguard::milter
