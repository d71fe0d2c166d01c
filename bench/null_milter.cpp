// null_milter.cpp - the benchmark's ceiling for any milter that sees every phase: libmilter with
// every callback registered, each answering "continue", and the same transport tuning as mxguard
// (TCP_NODELAY on the listener, inherited by accepted sockets), so the difference to mxguard is
// mxguard's own work.
// Usage: mxguard-null-milter inet:PORT@127.0.0.1 | unix:/path [--add-header] [--no-reply]
// --add-header: also inserts one Authentication-Results field (mxguard's, for the benchmark's
// message) at end of message, as any filter that reports its results does: the ceiling for those,
// since the MTA's work to apply a header edit is then counted in the baseline as well.
// --no-reply: also asks the MTA not to wait for a reply to each header and body chunk, and on a
// unix socket to DATA (SMFIP_NR_HDR, SMFIP_NR_BODY, SMFIP_NR_DATA), as mxguard does: the ceiling
// for a milter that answers only where an answer can change what the SMTP client is told. Must not:
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
bool gNoReply = false;
bool gNoDataReply = false;  // --no-reply on a unix socket

sfsistat onHeader(SMFICTX*, char*, char*) {
  return gNoReply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}
sfsistat onPhase(SMFICTX*) {
  return SMFIS_CONTINUE;
}
sfsistat onData(SMFICTX*) {
  return gNoDataReply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}
sfsistat onEomAddHeader(SMFICTX* ctx) {
  insertAuthenticationResults(ctx);
  return SMFIS_CONTINUE;
}
sfsistat onBody(SMFICTX*, unsigned char*, size_t) {
  return gNoReply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}
// Only with --no-reply (without it libmilter negotiates as before): every callback stays, header
// and body chunks (and DATA on a unix socket) go unanswered.
sfsistat onNegotiate(SMFICTX*, unsigned long actions, unsigned long steps, unsigned long,
                     unsigned long, unsigned long* wantActions, unsigned long* wantSteps,
                     unsigned long*, unsigned long*) {
  *wantActions = actions & SMFIF_ADDHDRS;
  *wantSteps = steps & (SMFIP_NR_HDR | SMFIP_NR_BODY | (gNoDataReply ? SMFIP_NR_DATA : 0));
  return SMFIS_CONTINUE;
}
sfsistat onUnknown(SMFICTX*, const char*) {
  return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
  bool addHeader = false, usage = argc < 2;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--add-header")
      addHeader = true;
    else if (a == "--no-reply")
      gNoReply = true;
    else
      usage = true;
  }
  if (usage) {
    std::fprintf(stderr, "usage: %s inet:PORT@HOST | unix:/path [--add-header] [--no-reply]\n",
                 argv[0]);
    return 64;
  }
  gNoDataReply = gNoReply && isUnixSocket(argv[1]);
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
  desc.xxfi_data = onData;
  if (gNoReply) desc.xxfi_negotiate = onNegotiate;
  return listenAndRun(desc, argv[1]);
}
