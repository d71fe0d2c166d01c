// log_sinks.cpp - a timestamped stderr line, or syslog(LOG_MAIL) like Postfix's own logs.
// Must not: pass log text as a format string.
#include "milter/log_sinks.h"

#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/log.h"

namespace mxguard::milter {

void logToStderr() {
  setLogSink([](LogLevel level, std::string_view message) {
    static std::mutex m;
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::lock_guard guard(m);
    std::fprintf(stderr, "%s mxguard[%d]: %s: %.*s\n", stamp, static_cast<int>(getpid()),
                 toString(level), static_cast<int>(message.size()), message.data());
    std::fflush(stderr);
  });
}

void logToSyslog(LogSink also) {
  openlog("mxguard", LOG_PID | LOG_NDELAY, LOG_MAIL);
  setLogSink([also = std::move(also)](LogLevel level, std::string_view message) {
    int priority = level == LogLevel::Error     ? LOG_ERR
                   : level == LogLevel::Warning ? LOG_WARNING
                   : level == LogLevel::Info    ? LOG_INFO
                                                : LOG_DEBUG;
    syslog(priority, "%s: %.*s", toString(level), static_cast<int>(message.size()), message.data());
    if (also) also(level, message);
  });
}

}  // namespace mxguard::milter
