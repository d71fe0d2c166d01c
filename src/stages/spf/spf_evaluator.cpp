// spf_evaluator.cpp - one SPF_server_t per evaluator (built at policy load, shared by threads:
// libspf2 only reads it during a query), one SPF_request_t/SPF_response_t per evaluation.
// Must not: let libspf2's own INVALID result or its stderr logging reach the caller, or hand it
// a domain with control bytes.
#include "stages/spf/spf_evaluator.h"

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "stages/spf/spf_dns_layer.h"

namespace mxguard::stages {
namespace {

void quiet(const char*, int, const char*) {}

void silenceLibspf2Once() {
  // libspf2 prints warnings about every odd record to stderr; our trace has the facts.
  static std::once_flag once;
  std::call_once(once, [] {
    SPF_warning_handler = quiet;
    SPF_info_handler = quiet;
    SPF_debug_handler = quiet;
  });
}

SpfResult fromLibspf2(SPF_result_t r, SPF_errcode_t err) {
  switch (r) {
    case SPF_RESULT_NEUTRAL:
      return SpfResult::Neutral;
    case SPF_RESULT_PASS:
      return SpfResult::Pass;
    case SPF_RESULT_FAIL:
      return SpfResult::Fail;
    case SPF_RESULT_SOFTFAIL:
      return SpfResult::Softfail;
    case SPF_RESULT_NONE:
      return SpfResult::None;
    case SPF_RESULT_TEMPERROR:
      return SpfResult::Temperror;
    case SPF_RESULT_PERMERROR:
      return SpfResult::Permerror;
    case SPF_RESULT_INVALID:
      break;
  }
  // INVALID: libspf2 stopped on an error without a result.
  return err == SPF_E_DNS_ERROR ? SpfResult::Temperror : SpfResult::Permerror;
}

std::string domainOf(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? address : address.substr(at + 1);
}

// libspf2 writes URL escapes of upper-case macros (7.3) in lower-case hex; RFC 3986 2.1
// prefers upper case, and the suite expects it.
std::string upperCaseEscapes(std::string s) {
  for (size_t i = 0; i + 2 < s.size(); ++i)
    if (s[i] == '%' && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      s[i + 1] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 1])));
      s[i + 2] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 2])));
      i += 2;
    }
  return s;
}

// libspf2 writes the dotted nibbles of an IPv6 %{i} in lower case; RFC 7208 7.4 shows them in
// upper case (1.0.B.C...). Only explanation text can show it: runs of 8 or more single hex
// digits separated by dots, which ordinary text does not contain.
std::string upperCaseNibbles(std::string s) {
  auto hex = [&](size_t k) {
    return k < s.size() && std::isxdigit(static_cast<unsigned char>(s[k]));
  };
  auto alnum = [&](size_t k) {
    return k < s.size() && std::isalnum(static_cast<unsigned char>(s[k]));
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (!hex(i) || (i > 0 && (alnum(i - 1) || s[i - 1] == '.'))) continue;  // not a run start
    size_t end = i, nibbles = 0;
    while (hex(end) && !alnum(end + 1)) {  // a single hex digit
      ++nibbles;
      bool more = end + 1 < s.size() && s[end + 1] == '.' && hex(end + 2);
      end += more ? 2 : 1;
      if (!more) break;
    }
    if (nibbles < 8) continue;
    for (size_t k = i; k < end; ++k)
      s[k] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[k])));
    i = end;
  }
  return s;
}

// RFC 7208 4.3: a malformed domain is "none" at once. A control byte (CR/LF from a hostile
// MAIL FROM or HELO) makes it malformed, and it must never reach the resolver.
std::string malformedDomain(const std::string& domain) {
  for (unsigned char c : domain)
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      return std::string("the domain is malformed (character ") + hex + "; RFC 7208 4.3)";
    }
  return "";
}

}  // namespace

const char* toString(SpfResult r) {
  switch (r) {
    case SpfResult::None:
      return "none";
    case SpfResult::Neutral:
      return "neutral";
    case SpfResult::Pass:
      return "pass";
    case SpfResult::Fail:
      return "fail";
    case SpfResult::Softfail:
      return "softfail";
    case SpfResult::Temperror:
      return "temperror";
    case SpfResult::Permerror:
      return "permerror";
  }
  return "?";
}

struct SpfEvaluator::Impl {
  dns::ResolverSharedPtr resolver;
  SPF_dns_server_t* layer = nullptr;
  SPF_server_t* server = nullptr;
  std::string defaultExplanation;
};

SpfEvaluator::SpfEvaluator(dns::ResolverSharedPtr resolver, const std::string& receiver,
                           const std::string& defaultExplanation)
    : impl_(std::make_unique<Impl>()) {
  silenceLibspf2Once();
  impl_->resolver = std::move(resolver);
  impl_->layer = newSpfDnsLayer();
  if (!impl_->layer) throw std::bad_alloc();
  impl_->server = SPF_server_new_dns(impl_->layer, 0);
  if (!impl_->server) {
    freeSpfDnsLayer(impl_->layer);
    throw std::bad_alloc();
  }
  SPF_server_set_rec_dom(impl_->server, receiver.empty() ? "unknown" : receiver.c_str());
  // A sentinel default, so a fail can tell "the domain published exp=" from "it did not".
  impl_->defaultExplanation = defaultExplanation.empty() ? "mxguard-no-exp" : defaultExplanation;
  SPF_response_t* errors = nullptr;
  SPF_server_set_explanation(impl_->server, impl_->defaultExplanation.c_str(), &errors);
  if (errors) SPF_response_free(errors);
}

SpfEvaluator::~SpfEvaluator() {
  SPF_server_free(impl_->server);
  freeSpfDnsLayer(impl_->layer);
}

SpfEvaluation SpfEvaluator::checkMailFrom(const IpAddress& client, const std::string& helo,
                                          const std::string& sender,
                                          std::chrono::milliseconds timeout) const {
  if (sender.empty()) return checkHelo(client, helo, timeout);  // 2.4: postmaster@<helo>
  std::string address = sender.find('@') == std::string::npos ? "postmaster@" + sender : sender;
  if (address.front() == '@') address = "postmaster" + address;  // 4.3: no local part
  if (std::string why = malformedDomain(domainOf(address)); !why.empty()) {
    SpfEvaluation e;
    e.identity = "mailfrom";
    e.checked = address;
    e.domain = domainOf(address);
    e.problem = why;
    return e;
  }
  return evaluate(client, helo, address, "mailfrom", timeout);
}

SpfEvaluation SpfEvaluator::checkHelo(const IpAddress& client, const std::string& helo,
                                      std::chrono::milliseconds timeout) const {
  SpfEvaluation e;
  e.identity = "helo";
  e.domain = helo;
  e.checked = "postmaster@" + helo;
  if (std::string why = malformedDomain(helo); !why.empty()) {
    e.problem = why;
    return e;
  }
  // 2.3: a HELO that is not a domain name (an address literal, a bare word) has no SPF.
  if (helo.empty() || helo.front() == '[' || IpAddress::parse(helo) ||
      helo.find('.') == std::string::npos) {
    e.problem = helo.empty() ? "no HELO name" : "the HELO name is not a domain name";
    return e;
  }
  return evaluate(client, helo, e.checked, "helo", timeout);
}

SpfEvaluation SpfEvaluator::evaluate(const IpAddress& client, const std::string& helo,
                                     const std::string& address, std::string identity,
                                     std::chrono::milliseconds timeout) const {
  SpfEvaluation e;
  e.identity = std::move(identity);
  e.checked = address;
  e.domain = domainOf(address);

  // libspf2 answers "pass" for a loopback client without evaluating anything; a local
  // submission has no SPF to check, and a pass would vouch for whatever it injects.
  const auto& b = client.bytes();
  bool loopback =
      client.isV4()
          ? b[0] == 127
          : std::all_of(b.begin(), b.begin() + 15, [](auto x) { return x == 0; }) && b[15] == 1;
  if (loopback) {
    e.problem = "loopback client: SPF does not apply to local submission";
    return e;
  }

  SpfLookupContext ctx;
  ctx.resolver = impl_->resolver.get();
  ctx.deadline = std::chrono::steady_clock::now() + timeout;
  ctx.client = client;
  SpfLookupScope scope(ctx);

  SPF_request_t* request = SPF_request_new(impl_->server);
  if (!request) {
    e.result = SpfResult::Temperror;
    e.problem = "out of memory";
    return e;
  }
  std::string ip = client.toString();
  if (client.isV4())
    SPF_request_set_ipv4_str(request, ip.c_str());
  else
    SPF_request_set_ipv6_str(request, ip.c_str());
  if (!helo.empty()) SPF_request_set_helo_dom(request, helo.c_str());
  if (SPF_request_set_env_from(request, address.c_str()) != 0) {
    SPF_request_free(request);
    e.problem = "'" + address + "' is not an address SPF can check";
    return e;  // none (4.3: malformed domain)
  }
  SPF_response_t* response = nullptr;
  SPF_errcode_t err = SPF_request_query_mailfrom(request, &response);
  if (response) {
    if (SPF_response_errcode(response) != SPF_E_SUCCESS) err = SPF_response_errcode(response);
    e.result = fromLibspf2(SPF_response_result(response), err);
    if (e.result == SpfResult::Fail) {
      const char* x = SPF_response_get_explanation(response);
      if (x && impl_->defaultExplanation != x)
        e.explanation = upperCaseEscapes(client.isV4() ? std::string(x) : upperCaseNibbles(x));
    }
    SPF_response_free(response);
  } else {
    e.result = err == SPF_E_DNS_ERROR ? SpfResult::Temperror : SpfResult::Permerror;
  }
  SPF_request_free(request);

  if (auto over = limitExceeded(ctx); !over.empty() && e.result != SpfResult::Temperror) {
    e.result = SpfResult::Permerror;
    e.problem = over;
  }
  e.record = ctx.topRecord;
  if (e.problem.empty()) {
    if (e.result == SpfResult::Temperror)
      e.problem = ctx.dnsError.empty() ? "DNS lookup failed" : ctx.dnsError;
    else if (e.result == SpfResult::Permerror)
      e.problem = ctx.recordError.empty() ? "the SPF record cannot be evaluated (" +
                                                std::string(SPF_strerror(err)) + ")"
                                          : ctx.recordError;
    else if (e.result == SpfResult::None)
      e.problem = "no SPF record at " + e.domain;
  }
  return e;
}

}  // namespace mxguard::stages
