// null_milter.cpp - the benchmark's ceiling for any milter that sees every phase: libmilter with
// every callback registered, each answering "continue", and the same transport tuning as mxguard
// (TCP_NODELAY on the listener, inherited by accepted sockets), so the difference to mxguard is
// mxguard's own work. Usage: mxguard-null-milter inet:PORT@127.0.0.1 | unix:/path [--add-header]
// --add-header: also inserts one Authentication-Results field (mxguard's, for the benchmark's
// message) at end of message, as any filter that reports its results does: the ceiling for those,
// since the MTA's work to apply a header edit is then counted in the baseline as well. Must not:
// inspect or change anything else (it is the baseline).
#include <libmilter/mfapi.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_milter.h"

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
sfsistat onEomAddHeader(SMFICTX* ctx) {
  insertAuthenticationResults(ctx);
  return SMFIS_CONTINUE;
}
sfsistat onBody(SMFICTX*, unsigned char*, size_t) {
  return SMFIS_CONTINUE;
}
sfsistat onUnknown(SMFICTX*, const char*) {
  return SMFIS_CONTINUE;
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
  return listenAndRun(desc, argv[1]);
}
