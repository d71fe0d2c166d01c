// bench_milter.h - what the benchmark's baseline milters share: listening like mxguard does.
// TCP_NODELAY on libmilter's listening socket, inherited by the accepted ones: the same tuning as
// mxguard's setNoDelayOnListeners (src/milter/daemon.cpp), so the baselines do not stall on
// Nagle + delayed ACK over TCP. libmilter does not expose its listening socket: every listening
// socket of the process is set.
#pragma once

#include <dirent.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

inline void setNoDelayOnListeners() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  while (dirent* e = readdir(dir)) {
    int fd = std::atoi(e->d_name);
    int listening = 0;
    socklen_t len = sizeof listening;
    if (fd <= 2 || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
      continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  closedir(dir);
}

// Inserts the field mxguard's default policy adds for the benchmark's message, folded the same
// way (one edit, as by any filter that reports its results).
inline void insertAuthenticationResults(SMFICTX* ctx) {
  static char name[] = "Authentication-Results";
  static char value[] =
      "mx.example.net;\n\tspf=pass smtp.mailfrom=bench@sender.example.net;\n"
      "\tdkim=pass header.d=spfpass.example.net header.s=bench header.b=ESfGvZEj";
  smfi_insheader(ctx, 0, name, value);
}

// "unix:/path" or "local:/path", as mxguard reads it (src/milter/privileges.cpp,
// unixSocketPath). DATA goes unanswered (SMFIP_NR_DATA) only there, as in mxguard: over TCP,
// Postfix's separate DATA write would wait ~40 ms for a delayed ACK.
inline bool isUnixSocket(const std::string& conn) {
  return conn.rfind("unix:", 0) == 0 || conn.rfind("local:", 0) == 0;
}

// Registers desc, listens on conn ("unix:/path" or "inet:PORT@HOST") and runs libmilter's loop;
// the exit status for main.
inline int listenAndRun(const smfiDesc& desc, const char* conn) {
  std::string c = conn;
  smfiDesc d = desc;
  if (smfi_setconn(c.data()) != MI_SUCCESS || smfi_register(d) != MI_SUCCESS ||
      smfi_opensocket(true) != MI_SUCCESS) {
    std::fprintf(stderr, "%s: cannot listen on %s\n", desc.xxfi_name, conn);
    return 71;
  }
  setNoDelayOnListeners();
  // The MTA runs as another user: a unix socket must be writable for it.
  if (isUnixSocket(c)) chmod(c.substr(c.find(':') + 1).c_str(), 0666);
  std::fprintf(stderr, "%s listening on %s\n", desc.xxfi_name, conn);
  return smfi_main() == MI_SUCCESS ? 0 : 71;
}
