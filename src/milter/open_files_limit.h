// open_files_limit.h - raises the soft limit on open files to what max_connections needs, up to
// the hard limit (systemd's default soft limit, 1,024, is below it).
// Must not: raise the hard limit (only root could, and the unit's LimitNOFILE= is the place).
#pragma once

#include <string>

namespace mxguard::milter {

// The open files `maxConnections` can need: its milter sockets, a callout socket each,
// libunbound's 1,024 outgoing ports, and room for Redis, /metrics and the rest.
unsigned long openFilesNeeded(unsigned maxConnections);

// Raises the soft RLIMIT_NOFILE towards openFilesNeeded(). Returns "" when the limit suffices,
// else the warning to log (the hard limit is too low: the daemon still runs).
std::string raiseOpenFilesLimit(unsigned maxConnections);

}  // namespace mxguard::milter
