// spf_dns_layer.cpp - each libspf2 query becomes one Resolver lookup with what is left of the
// evaluation's deadline; answers are copied into libspf2's SPF_dns_rr_t.
// Must not: call libspf2's own resolver layers, block past the context's deadline, or pass on a
// name with control bytes.
#include "stages/spf/spf_dns_layer.h"

#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "base/strings.h"
#include "stages/spf/spf_record_syntax.h"

namespace mxguard::stages {
namespace {

thread_local SpfLookupContext* tCurrent = nullptr;
constexpr size_t kMaxPtrRecords = 10;  // RFC 7208 4.6.4: use the first 10, do not fail
constexpr int kMaxVoidLookups = 2;     // ... "SHOULD be 2"
constexpr int kMaxTermLookups = 10;    // include, a, mx, ptr, exists, redirect

// RFC 7208 7.3: a name over 253 octets loses labels from the left until it fits.
std::string truncateLeft(std::string name) {
  while (name.size() > 253) {
    size_t dot = name.find('.');
    if (dot == std::string::npos) return "";
    name.erase(0, dot + 1);
  }
  return name;
}

// Also refuses control bytes (a %{l} or %{h} macro can carry a sender's CR/LF into a name):
// no such name is ever asked of the resolver.
bool labelsValid(const std::string& name) {
  if (name.empty()) return false;
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f) return false;
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    size_t len = (dot == std::string::npos ? name.size() : dot) - start;
    if (len == 0 || len > 63) return false;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

bool endsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == lower(suffix);
}

// One lookup as RFC 7208 wants it, before libspf2 sees it.
dns::LookupResult resolve(SpfLookupContext& ctx, std::string name, dns::RrType type) {
  while (!name.empty() && name.back() == '.') name.pop_back();
  name = truncateLeft(std::move(name));
  if (!labelsValid(name)) return {dns::LookupStatus::NotFound, {}, 0, "invalid domain name"};
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      ctx.deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return {dns::LookupStatus::TempFail, {}, 0, "SPF evaluation deadline"};
  return ctx.resolver->lookup(name, type, left);
}

SPF_dns_rr_t* answer(SPF_dns_server_t* layer, const char* domain, ns_type type,
                     SPF_dns_stat_t herrno, uint32_t ttl = 0) {
  return SPF_dns_rr_new_init(layer, domain, type, static_cast<int>(ttl), herrno);
}

bool putString(SPF_dns_rr_t* rr, int i, const std::string& s) {
  if (SPF_dns_rr_buf_realloc(rr, i, s.size() + 1) != SPF_E_SUCCESS) return false;
  std::memcpy(rr->rr[i]->txt, s.c_str(), s.size() + 1);
  return true;
}

// Non-SPF TXT records only matter as exp= text (6.2): several, or non-ASCII, mean "no
// explanation"; libspf2 ends a macro-string at a space, so spaces are given as "%_".
std::vector<std::string> explanationTexts(std::vector<std::string> records) {
  for (const auto& r : records)
    if (isSpfRecord(r)) return records;
  if (records.size() != 1) return {};
  for (unsigned char c : records[0])
    if (c < 0x20 || c > 0x7e) return {};
  std::string out;
  for (char c : records[0]) out += c == ' ' ? std::string("%_") : std::string(1, c);
  return {out};
}

std::optional<dns::RrType> rrTypeOf(ns_type t) {
  switch (t) {
    case ns_t_a:
      return dns::RrType::A;
    case ns_t_aaaa:
      return dns::RrType::AAAA;
    case ns_t_mx:
      return dns::RrType::MX;
    case ns_t_ptr:
      return dns::RrType::PTR;
    case ns_t_txt:
      return dns::RrType::TXT;
    default:
      return std::nullopt;
  }
}

bool isAddress(dns::RrType t) {
  return t == dns::RrType::A || t == dns::RrType::AAAA;
}

// An a/exists term is one A/AAAA lookup; an mx term one MX lookup (its hosts' addresses are part
// of it); a ptr term one PTR lookup. TXT here is exp= text, not a term.
void countTermLookup(SpfLookupContext& ctx, dns::RrType type, const std::string& name,
                     bool validatesPtr) {
  if ((isAddress(type) && !validatesPtr && !ctx.mxTargets.count(lower(name))) ||
      type == dns::RrType::MX || type == dns::RrType::PTR)
    ++ctx.termLookups;
}

// A lookup that found nothing (a void lookup, 4.6.4) or failed (the first failure is the
// temperror's reason).
SPF_dns_rr_t* unanswered(SPF_dns_server_t* layer, const char* domain, ns_type nsType,
                         SpfLookupContext& ctx, dns::RrType type, const std::string& name,
                         const dns::LookupResult& r, bool validatesPtr) {
  if (r.status == dns::LookupStatus::NotFound || r.status == dns::LookupStatus::NoData) {
    if ((isAddress(type) || type == dns::RrType::MX || type == dns::RrType::PTR) && !validatesPtr)
      ++ctx.voidLookups;
    return answer(layer, domain, nsType,
                  r.status == dns::LookupStatus::NotFound ? HOST_NOT_FOUND : NO_DATA, r.ttl);
  }
  // 5.5: a PTR name whose address lookup fails is skipped, not a temperror.
  if (validatesPtr) return answer(layer, domain, nsType, NO_DATA);
  if (ctx.dnsError.empty())
    ctx.dnsError = std::string(toString(type)) + " " + name + ": " +
                   (r.error.empty() ? toString(r.status) : r.error);
  return answer(layer, domain, nsType, TRY_AGAIN);
}

// An A/AAAA record as libspf2 holds it; for a "/0" marked name the client's own address, since
// any address matches.
bool putAddress(SPF_dns_rr_t* rr, int n, bool v4, const std::string& record, bool cidrZero,
                const IpAddress& client) {
  std::string text = cidrZero && client.isV4() == v4 ? client.toString() : record;
  return SPF_dns_rr_buf_realloc(rr, n, v4 ? sizeof(in_addr) : sizeof(in6_addr)) == SPF_E_SUCCESS &&
         inet_pton(v4 ? AF_INET : AF_INET6, text.c_str(),
                   v4 ? static_cast<void*>(&rr->rr[n]->a) : &rr->rr[n]->aaaa) == 1;
}

// The records as libspf2's answer; MX and PTR targets are remembered for the lookups that follow.
SPF_dns_rr_t* answered(SPF_dns_server_t* layer, const char* domain, ns_type nsType,
                       SpfLookupContext& ctx, dns::RrType type,
                       const std::vector<std::string>& records, uint32_t ttl, bool cidrZero) {
  SPF_dns_rr_t* rr = answer(layer, domain, nsType, NETDB_SUCCESS, ttl);
  if (!rr) return nullptr;
  int n = 0;
  for (const auto& rec : records) {
    bool ok = true;
    if (isAddress(type)) {
      ok = putAddress(rr, n, type == dns::RrType::A, rec, cidrZero, ctx.client);
      if (cidrZero) {
        if (ok) ++n;
        break;  // one address is enough
      }
    } else if (type == dns::RrType::MX) {
      size_t sp = rec.find(' ');  // "10 mx.example.net"
      std::string host = sp == std::string::npos ? rec : rec.substr(sp + 1);
      ctx.mxTargets.insert(lower(host));
      if (cidrZero) host += std::string(kCidrZeroMarker);
      ok = putString(rr, n, host);
    } else {
      if (type == dns::RrType::PTR) ctx.ptrTargets.insert(lower(rec));
      ok = putString(rr, n, rec);
    }
    if (!ok) continue;
    ++n;
  }
  rr->num_rr = n;
  if (n == 0) rr->herrno = NO_DATA;
  return rr;
}

SPF_dns_rr_t* lookupHook(SPF_dns_server_t* layer, const char* domain, ns_type nsType, int) {
  SpfLookupContext* ctx = tCurrent;
  if (!ctx || !domain) return answer(layer, domain ? domain : "", nsType, TRY_AGAIN);
  std::optional<dns::RrType> type = rrTypeOf(nsType);
  if (!type) return answer(layer, domain, nsType, NO_DATA);  // type 99 SPF: obsolete (3.1)
  std::string name = domain;
  bool cidrZero = endsWith(name, kCidrZeroMarker);
  if (cidrZero) name.resize(name.size() - kCidrZeroMarker.size());
  bool validatesPtr = isAddress(*type) && ctx->ptrTargets.count(lower(name));
  countTermLookup(*ctx, *type, name, validatesPtr);

  dns::LookupResult r = resolve(*ctx, name, *type);
  if (r.status != dns::LookupStatus::Ok)
    return unanswered(layer, domain, nsType, *ctx, *type, name, r, validatesPtr);
  std::vector<std::string> records = std::move(r.records);
  if (type == dns::RrType::TXT) records = explanationTexts(std::move(records));
  if (type == dns::RrType::PTR && records.size() > kMaxPtrRecords) records.resize(kMaxPtrRecords);
  if (records.empty()) return answer(layer, domain, nsType, NO_DATA, r.ttl);
  return answered(layer, domain, nsType, *ctx, *type, records, r.ttl, cidrZero);
}

SPF_errcode_t fail(SPF_response_t* response, SPF_result_t result, SPF_errcode_t code,
                   const std::string& why) {
  response->result = result;
  response->reason = SPF_REASON_FAILURE;
  response->err = code;
  SPF_response_add_error(response, code, "%s", why.c_str());
  return code;
}

// RFC 7208 4.4-4.6 record lookup and selection, and the section 12 syntax, before libspf2
// compiles the record (its own selection and parser predate RFC 7208).
SPF_errcode_t getSpfHook(SPF_server_t* server, SPF_request_t* request, SPF_response_t* response,
                         SPF_record_t** recordp) {
  *recordp = nullptr;
  SpfLookupContext* ctx = tCurrent;
  const char* domain = request->cur_dom;
  if (!ctx || !domain) return fail(response, SPF_RESULT_TEMPERROR, SPF_E_DNS_ERROR, "no context");
  if (ctx->recordsFetched++ > 0) ++ctx->termLookups;  // include: or redirect=
  dns::LookupResult r = resolve(*ctx, domain, dns::RrType::TXT);
  bool top = ctx->topDomain.empty();
  if (top) ctx->topDomain = domain;
  switch (r.status) {
    case dns::LookupStatus::Ok:
      break;
    case dns::LookupStatus::NotFound:
    case dns::LookupStatus::NoData:
      return fail(response, SPF_RESULT_NONE, SPF_E_NOT_SPF,
                  std::string("no SPF record at ") + domain);
    default:
      if (ctx->dnsError.empty())
        ctx->dnsError =
            std::string("TXT ") + domain + ": " + (r.error.empty() ? toString(r.status) : r.error);
      return fail(response, SPF_RESULT_TEMPERROR, SPF_E_DNS_ERROR,
                  "DNS failure looking up " + std::string(domain));
  }
  std::vector<std::string> spf;
  for (const auto& rec : r.records)
    if (isSpfRecord(rec)) spf.push_back(rec);
  if (spf.empty())
    return fail(response, SPF_RESULT_NONE, SPF_E_NOT_SPF,
                std::string("no SPF record at ") + domain);
  if (top) ctx->topRecord = spf.front();
  auto permerror = [&](const std::string& why) {
    if (ctx->recordError.empty()) ctx->recordError = why;
    return fail(response, SPF_RESULT_PERMERROR, SPF_E_SYNTAX, why);
  };
  if (spf.size() > 1)
    return permerror("more than one SPF record at " + std::string(domain) + " (RFC 7208 4.5)");
  SpfRecordCheck check = checkSpfRecord(spf.front(), ctx->client.isV4());
  if (!check.valid)
    return permerror("invalid SPF record at " + std::string(domain) + ": " + check.error);
  SPF_errcode_t err = SPF_record_compile(server, response, recordp, check.rewritten.c_str());
  if (err != SPF_E_SUCCESS) {
    if (*recordp) SPF_record_free(*recordp);
    *recordp = nullptr;
    return permerror("invalid SPF record at " + std::string(domain) + ": " + SPF_strerror(err));
  }
  return SPF_E_SUCCESS;
}

}  // namespace

SpfLookupScope::SpfLookupScope(SpfLookupContext& ctx) : previous_(tCurrent) {
  tCurrent = &ctx;
}
SpfLookupScope::~SpfLookupScope() {
  tCurrent = previous_;
}

SPF_dns_server_t* newSpfDnsLayer() {
  auto* layer = static_cast<SPF_dns_server_t*>(std::calloc(1, sizeof(SPF_dns_server_t)));
  if (!layer) return nullptr;
  layer->destroy = nullptr;  // ours: freed by freeSpfDnsLayer, never by SPF_server_free
  layer->lookup = lookupHook;
  layer->get_spf = getSpfHook;
  layer->name = "mxguard";
  return layer;
}

void freeSpfDnsLayer(SPF_dns_server_t* layer) {
  std::free(layer);
}

std::string limitExceeded(const SpfLookupContext& ctx) {
  if (ctx.termLookups > kMaxTermLookups) return "more than 10 DNS-querying terms (RFC 7208 4.6.4)";
  if (ctx.voidLookups > kMaxVoidLookups)
    return "more than 2 DNS lookups returned no records (RFC 7208 4.6.4)";
  return "";
}

}  // namespace mxguard::stages
