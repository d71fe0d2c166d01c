// daemon.h - the mxguard process: log sink, daemonizing, socket, privileges, signals
// (SIGHUP reloads the policy, SIGUSR1 logs counters, SIGTERM/SIGINT stop), and libmilter's main
// loop. Must not: parse configuration (main does) or judge mail (the Engine does).
#pragma once

#include "app/daemon_options.h"

namespace mxguard::milter {

// Runs until SIGTERM/SIGINT; returns the process exit code. Without --foreground it forks: the
// calling process waits until the detached daemon serves (exit 0) or fails to start (its errors
// on stderr, its exit code), and never returns from here; the daemon does.
int runDaemon(const app::DaemonOptions& options);

}  // namespace mxguard::milter
