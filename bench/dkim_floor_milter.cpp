// dkim_floor_milter.cpp - the benchmark's floor for a filter that verifies DKIM with libopendkim:
// the null milter (bench/null_milter.cpp, as --no-reply: header and body chunks, and DATA on a
// unix socket, unanswered, as mxguard negotiates) plus libopendkim's verification of every
// message, the least any libopendkim-based filter does: one verify handle per message,
// dkim_header for each field, dkim_eoh, dkim_body for each chunk, dkim_eom; the key record comes
// from memory (no DNS), and decoded keys from mxguard's own key cache
// (src/stages/dkim_public_key_cache.cpp, linked in), so nothing is paid that mxguard does not pay
// too. It inserts the same Authentication-Results field as null_milter --add-header. What it
// costs over that setup is the library's share of mxguard's cost, which no change in mxguard's
// own code can remove.
// Usage: mxguard-dkim-floor-milter inet:PORT@127.0.0.1 | unix:/path KEY_RECORD_FILE
// Must not: accept a message whose signature did not verify (it answers tempfail, so the
// benchmark's delivery count fails instead of measuring a cheaper path), or add any other work.
#include <libmilter/mfapi.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "bench_milter.h"
#include "stages/dkim/dkim_lib.h"  // libopendkim, with C99 _Bool spelled for C++
#include "stages/dkim/dkim_public_key_cache.h"

namespace {

bool gNoDataReply = false;  // on a unix socket, as mxguard

DKIM_LIB* gLib = nullptr;
std::string gKeyRecord;  // "v=DKIM1; k=rsa; p=..."

struct Message {
  DKIM* handle = nullptr;
  std::string buffer;
  ~Message() {
    if (handle) dkim_free(handle);
  }
};

Message* messageOf(SMFICTX* ctx) {
  return static_cast<Message*>(smfi_getpriv(ctx));
}

DKIM_CBSTAT keyLookup(DKIM*, DKIM_SIGINFO*, u_char* buf, size_t buflen) {
  if (gKeyRecord.size() + 1 > buflen) return DKIM_CBSTAT_ERROR;
  std::memcpy(buf, gKeyRecord.c_str(), gKeyRecord.size() + 1);
  return DKIM_CBSTAT_CONTINUE;
}

sfsistat onConnect(SMFICTX*, char*, _SOCK_ADDR*) {
  return SMFIS_CONTINUE;
}
sfsistat onHelo(SMFICTX*, char*) {
  return SMFIS_CONTINUE;
}
sfsistat onEnvFrom(SMFICTX* ctx, char**) {
  delete messageOf(ctx);
  auto* m = new Message;
  smfi_setpriv(ctx, m);
  DKIM_STAT status = DKIM_STAT_OK;
  m->handle = dkim_verify(gLib, reinterpret_cast<const u_char*>("floor"), nullptr, &status);
  return m->handle ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
}
sfsistat onEnvRcpt(SMFICTX*, char**) {
  return SMFIS_CONTINUE;
}
// Header and body chunks go unanswered (negotiated as mxguard does); without a message, end of
// headers answers tempfail.
sfsistat onHeader(SMFICTX* ctx, char* name, char* value) {
  Message* m = messageOf(ctx);
  if (!m) return SMFIS_NOREPLY;
  // Postfix strips the one space after the colon; relaxed canonicalization does not see it.
  m->buffer.assign(name).append(": ").append(value);
  dkim_header(m->handle, reinterpret_cast<u_char*>(m->buffer.data()), m->buffer.size());
  return SMFIS_NOREPLY;
}
sfsistat onEoh(SMFICTX* ctx) {
  Message* m = messageOf(ctx);
  if (!m) return SMFIS_TEMPFAIL;
  dkim_eoh(m->handle);
  return SMFIS_CONTINUE;
}
sfsistat onBody(SMFICTX* ctx, unsigned char* chunk, size_t size) {
  Message* m = messageOf(ctx);
  if (!m) return SMFIS_NOREPLY;
  dkim_body(m->handle, chunk, size);  // Postfix sends CRLF line ends
  return SMFIS_NOREPLY;
}
sfsistat onEom(SMFICTX* ctx) {
  Message* m = messageOf(ctx);
  if (!m) return SMFIS_TEMPFAIL;
  bool testKey = false;
  DKIM_STAT s = dkim_eom(m->handle, &testKey);
  delete m;
  smfi_setpriv(ctx, nullptr);
  if (s != DKIM_STAT_OK) {
    std::fprintf(stderr, "dkim-floor: signature did not verify: %s\n", dkim_getresultstr(s));
    return SMFIS_TEMPFAIL;
  }
  insertAuthenticationResults(ctx);
  return SMFIS_CONTINUE;
}
sfsistat onNegotiate(SMFICTX*, unsigned long actions, unsigned long steps, unsigned long,
                     unsigned long, unsigned long* wantActions, unsigned long* wantSteps,
                     unsigned long*, unsigned long*) {
  *wantActions = actions & SMFIF_ADDHDRS;
  *wantSteps = steps & (SMFIP_NR_HDR | SMFIP_NR_BODY | (gNoDataReply ? SMFIP_NR_DATA : 0));
  return SMFIS_CONTINUE;
}
sfsistat onPhase(SMFICTX*) {
  return SMFIS_CONTINUE;
}
sfsistat onData(SMFICTX*) {
  return gNoDataReply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}
sfsistat onClose(SMFICTX* ctx) {
  delete messageOf(ctx);
  smfi_setpriv(ctx, nullptr);
  return SMFIS_CONTINUE;
}
sfsistat onUnknown(SMFICTX*, const char*) {
  return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s inet:PORT@HOST | unix:/path KEY_RECORD_FILE\n", argv[0]);
    return 64;
  }
  std::ifstream in(argv[2]);
  std::stringstream text;
  text << in.rdbuf();
  gKeyRecord = text.str();
  while (!gKeyRecord.empty() && (gKeyRecord.back() == '\n' || gKeyRecord.back() == '\r'))
    gKeyRecord.pop_back();
  if (gKeyRecord.empty()) {
    std::fprintf(stderr, "dkim-floor: no key record in %s\n", argv[2]);
    return 66;
  }
  (void)mxguard::stages::cachedDkimKeyCount();  // links the key cache in (see its header)
  gLib = dkim_init(nullptr, nullptr);
  if (!gLib || dkim_set_key_lookup(gLib, &keyLookup) != DKIM_STAT_OK) {
    std::fprintf(stderr, "dkim-floor: libopendkim did not initialise\n");
    return 70;
  }
  gNoDataReply = isUnixSocket(argv[1]);
  smfiDesc desc{};
  desc.xxfi_name = const_cast<char*>("dkim-floor-milter");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS;
  desc.xxfi_connect = onConnect;
  desc.xxfi_helo = onHelo;
  desc.xxfi_envfrom = onEnvFrom;
  desc.xxfi_envrcpt = onEnvRcpt;
  desc.xxfi_header = onHeader;
  desc.xxfi_eoh = onEoh;
  desc.xxfi_body = onBody;
  desc.xxfi_eom = onEom;
  desc.xxfi_abort = onPhase;
  desc.xxfi_close = onClose;
  desc.xxfi_unknown = onUnknown;
  desc.xxfi_data = onData;
  desc.xxfi_negotiate = onNegotiate;
  return listenAndRun(desc, argv[1]);
}
