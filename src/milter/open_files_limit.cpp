// open_files_limit.cpp - setrlimit(RLIMIT_NOFILE) towards what max_connections needs. Every
// library mxguard uses waits with poll or epoll (libmilter, libunbound via libevent, hiredis,
// libmicrohttpd, the callout client), so descriptors above FD_SETSIZE are safe.
// Must not: lower a limit that is already higher.
#include "milter/open_files_limit.h"

#include <sys/resource.h>

#include <algorithm>

namespace mxguard::milter {

unsigned long openFilesNeeded(unsigned maxConnections) {
  return 2ul * maxConnections + 1024 + 512;
}

std::string raiseOpenFilesLimit(unsigned maxConnections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return "";
  const rlim_t need = openFilesNeeded(maxConnections);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : std::min(need, rl.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) return "";
  return "open-file limit " + std::to_string(rl.rlim_cur) + " is below the " +
         std::to_string(need) + " that max_connections = " + std::to_string(maxConnections) +
         " may need; past it libmilter cannot accept connections (raise LimitNOFILE= or "
         "ulimit -n, or lower max_connections)";
}

}  // namespace mxguard::milter
