// null_milter.cpp - the benchmark's ceiling for any milter that sees every phase: libmilter with
// every callback registered, each answering "continue", and the same transport tuning as mxguard
// (TCP_NODELAY on the listener, inherited by accepted sockets), so the difference to mxguard is
// mxguard's own work. Usage: mxguard-null-milter inet:PORT@127.0.0.1 | unix:/path [--add-header]
// --add-header: also inserts one Authentication-Results field (mxguard's, for the benchmark's
// message) at end of message, as any filter that reports its results does: the ceiling for those,
// since the MTA's work to apply a header edit is then counted in the baseline as well. Must not:
// inspect or change anything else (it is the baseline).
#include <dirent.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

sfsistat onConnect(SMFICTX*, char*, _SOCK_ADDR*) {
  return SMFIS_CONTINUE;
}
sfsistat onHelo(SMFICTX*, char*) {
  return SMFIS_CONTINUE;
}
sfsistat onEnvelope(SMFICTX*, char**) {
  return SMFIS_CONTINUE;
}
sfsistat onHeader(SMFICTX*, char*, char*) {
  return SMFIS_CONTINUE;
}
sfsistat onPhase(SMFICTX*) {
  return SMFIS_CONTINUE;
}
// The field mxguard's default policy adds for the benchmark's message, folded the same way.
char kHeaderName[] = "Authentication-Results";
char kHeaderValue[] =
    "mx.example.net;\n\tspf=pass smtp.mailfrom=bench@sender.example.net;\n"
    "\tdkim=pass header.d=spfpass.example.net header.s=bench header.b=ESfGvZEj";
sfsistat onEomAddHeader(SMFICTX* ctx) {
  smfi_insheader(ctx, 0, kHeaderName, kHeaderValue);
  return SMFIS_CONTINUE;
}
sfsistat onBody(SMFICTX*, unsigned char*, size_t) {
  return SMFIS_CONTINUE;
}
sfsistat onUnknown(SMFICTX*, const char*) {
  return SMFIS_CONTINUE;
}

// Same as mxguard's setNoDelayOnListeners: libmilter does not expose its listening socket.
void setNoDelayOnListeners() {
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

}  // namespace

int main(int argc, char** argv) {
  bool addHeader = argc == 3 && std::string(argv[2]) == "--add-header";
  if (argc != 2 && !addHeader) {
    std::fprintf(stderr, "usage: %s inet:PORT@HOST | unix:/path [--add-header]\n", argv[0]);
    return 64;
  }
  smfiDesc desc{};
  desc.xxfi_name = const_cast<char*>("null-milter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = addHeader ? SMFIF_ADDHDRS : 0;
  desc.xxfi_connect = onConnect;
  desc.xxfi_helo = onHelo;
  desc.xxfi_envfrom = onEnvelope;
  desc.xxfi_envrcpt = onEnvelope;
  desc.xxfi_header = onHeader;
  desc.xxfi_eoh = onPhase;
  desc.xxfi_body = onBody;
  desc.xxfi_eom = addHeader ? onEomAddHeader : onPhase;
  desc.xxfi_abort = onPhase;
  desc.xxfi_close = onPhase;
  desc.xxfi_unknown = onUnknown;
  desc.xxfi_data = onPhase;
  std::string conn = argv[1];
  if (smfi_setconn(conn.data()) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS ||
      smfi_opensocket(true) != MI_SUCCESS) {
    std::fprintf(stderr, "null-milter: cannot listen on %s\n", argv[1]);
    return 71;
  }
  setNoDelayOnListeners();
  // The MTA runs as another user: a unix socket must be writable for it.
  if (conn.rfind("unix:", 0) == 0 || conn.rfind("local:", 0) == 0)
    chmod(conn.substr(conn.find(':') + 1).c_str(), 0666);
  std::fprintf(stderr, "null-milter listening on %s\n", argv[1]);
  return smfi_main() == MI_SUCCESS ? 0 : 71;
}
