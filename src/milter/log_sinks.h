// log_sinks.h - where the daemon's log lines go: stderr (foreground) or syslog (mail facility).
// Must not: be installed after worker threads start (setLogSink is not thread-safe).
#pragma once

#include "base/log.h"

namespace mxguard::milter {

void logToStderr();
// `also`, when set, is given every line too (a daemon starting in the background tells the
// process waiting for it its errors).
void logToSyslog(LogSink also = nullptr);

}  // namespace mxguard::milter
