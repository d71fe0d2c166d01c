// dkim_key_lookup.cpp - the callback libopendkim calls for each signature's key.
// Must not: let an exception cross into libopendkim (every path returns a DKIM_CBSTAT).
#include "stages/dkim/dkim_key_lookup.h"

#include <cstring>

#include "core/stage.h"
#include "stages/dkim/dkim_key_record.h"
#include "stages/dkim/dkim_tags.h"

namespace mxguard::stages {

std::string keyQueryName(std::string_view selector, std::string_view domain) {
  if (selector.empty() || domain.empty()) return {};
  std::string name = std::string(selector) + "._domainkey." + std::string(domain);
  if (name.back() == '.') name.pop_back();
  return name;
}

namespace {

DKIM_CBSTAT lookup(KeyLookupContext& ctx, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) {
  using Kind = KeyLookupOutcome::Kind;
  auto& out = ctx.outcomes[sig];
  const u_char* q =
      dkim_sig_gettagvalue(sig, false, reinterpret_cast<u_char*>(const_cast<char*>("q")));
  if (!hasUsableQueryMethod(q ? reinterpret_cast<const char*>(q) : "", q != nullptr)) {
    out = {Kind::Permanent, "no supported query method in q="};
    return DKIM_CBSTAT_ERROR;
  }
  const u_char* s = dkim_sig_getselector(sig);
  const u_char* d = dkim_sig_getdomain(sig);
  std::string name = keyQueryName(s ? reinterpret_cast<const char*>(s) : "",
                                  d ? reinterpret_cast<const char*>(d) : "");
  if (name.empty() || ctx.resolver == nullptr) {
    out = {Kind::Permanent, "no key name (d= or s= missing)"};
    return DKIM_CBSTAT_ERROR;
  }
  dns::Query query{name, dns::RrType::TXT};
  dns::LookupResult r = ctx.tx ? cachedLookup(*ctx.tx, *ctx.resolver, query, ctx.timeout)
                               : ctx.resolver->lookup(name, dns::RrType::TXT, ctx.timeout);
  switch (r.status) {
    case dns::LookupStatus::Ok:
      break;
    case dns::LookupStatus::NotFound:
      out = {Kind::NotFound, "key not found"};
      return DKIM_CBSTAT_NOTFOUND;
    case dns::LookupStatus::NoData:
      out = {Kind::NotFound, "key not found (no TXT record)"};
      return DKIM_CBSTAT_NOTFOUND;
    case dns::LookupStatus::TempFail:
      out = {Kind::Temporary, r.error.find("timed out") != std::string::npos
                                  ? "key lookup timed out"
                                  : "key lookup failed (" + r.error + ")"};
      return DKIM_CBSTAT_TRYAGAIN;
    case dns::LookupStatus::PermFail:
      out = {Kind::Permanent, "key lookup failed (" + r.error + ")"};
      return DKIM_CBSTAT_ERROR;
  }
  // RFC 6376 3.6.2.2: several TXT records at a selector give undefined results; we refuse
  // rather than pick whichever the resolver happened to list first.
  if (r.records.empty()) {
    out = {Kind::NotFound, "key not found (empty answer)"};
    return DKIM_CBSTAT_NOTFOUND;
  }
  if (r.records.size() > 1) {
    out = {Kind::Permanent, "more than one key record"};
    return DKIM_CBSTAT_ERROR;
  }
  std::string rec = normalizeKeyRecord(r.records.front());
  // Refused before libopendkim decodes or verifies anything: what a verification costs grows
  // with the exponent's and the modulus's size, and the signer picks both.
  if (auto why = refusedRsaKey(rec)) {
    out = {Kind::Policy, *why};
    return DKIM_CBSTAT_ERROR;
  }
  if (rec.size() + 1 > buflen || rec.find('\0') != std::string::npos) {
    out = {Kind::Permanent, "key record unusable (too long or NUL byte)"};
    return DKIM_CBSTAT_ERROR;
  }
  std::memcpy(buf, rec.data(), rec.size());
  buf[rec.size()] = '\0';
  out = {Kind::Ok, ""};
  return DKIM_CBSTAT_CONTINUE;
}

}  // namespace

extern "C" DKIM_CBSTAT dkimKeyLookup(DKIM* dkim, DKIM_SIGINFO* sig, u_char* buf, size_t buflen) {
  auto* ctx = static_cast<KeyLookupContext*>(dkim_get_user_context(dkim));
  if (ctx == nullptr || sig == nullptr || buf == nullptr || buflen == 0) return DKIM_CBSTAT_ERROR;
  try {
    return lookup(*ctx, sig, buf, buflen);
  } catch (...) {  // e.g. std::bad_alloc: C code must not unwind
    return DKIM_CBSTAT_ERROR;
  }
}

}  // namespace mxguard::stages
