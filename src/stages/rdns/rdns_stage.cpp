// rdns_stage.cpp - Postfix's reject_unknown_reverse_client_hostname (no PTR) and
// reject_unknown_client_hostname (not forward-confirmed), with RFC 7372's 5.7.25; and the
// connection's iprev result (RFC 8601 2.7.3) for Authentication-Results.
// Must not: look up more than kMaxPtrNames names for one client.
#include "stages/rdns/rdns_stage.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "base/strings.h"
#include "stages/reverse_name.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"client_address", "client_name", "rdns_name", "dns_error"};

// "a.example does not resolve to 192.0.2.1", naming how many other PTR names failed too.
std::string notConfirmedWhy(const ReverseName& rev, const std::string& address) {
  size_t others = rev.ptrNames.size() - 1;
  std::string names = rev.ptrNames.front();
  if (others > 0)
    names += " and " + std::to_string(others) + " other PTR name" + (others == 1 ? "" : "s");
  return names + (others > 0 ? " do" : " does") + " not resolve to " + address;
}

// RFC 8601 2.7.3 for what lookupReverseName found; nullopt when the lookups that decide it did
// not run (PTR only: no check asked for the forward lookups).
std::optional<AuthResult> iprevResult(const Connection& tx, const ReverseName& rev) {
  const std::string& address = tx.client.clientAddress;
  auto result = [&](std::string r, std::string why) {
    return AuthResult{"iprev", std::move(r), std::move(why), {{"policy.iprev", address}}};
  };
  switch (rev.status) {
    case ReverseName::Status::Confirmed:
      return result("pass", rev.confirmedName);
    case ReverseName::Status::NotConfirmed:
      return result("fail", notConfirmedWhy(rev, address));
    case ReverseName::Status::NoPtr:
      // 2.7.3 names this case permerror, not fail: without PTR data the evaluation cannot
      // complete, and a later attempt is unlikely to change that.
      return result("permerror", "no PTR for " + address);
    case ReverseName::Status::PtrTempFail: {
      // lookupReverseName folds a permanent PTR failure (REFUSED, a malformed answer) into
      // PtrTempFail for the checks' sake (no 5xx on it); the answer, kept for this lookup round,
      // still tells the two apart.
      const auto* ptr =
          tx.dnsAnswers.find(tx.client.clientIp->ptrName(), dns::RrType::PTR, tx.clock().now());
      bool permanent = ptr && ptr->status == dns::LookupStatus::PermFail;
      return result(permanent ? "permerror" : "temperror", "PTR lookup " + rev.error);
    }
    case ReverseName::Status::ForwardTempFail:
      return result("temperror", "forward lookup " + rev.error);
    case ReverseName::Status::PtrOnly:
      break;
  }
  return std::nullopt;
}

// Once per connection: the connect hook runs once, but a second record would write a second
// iprev= into every message's Authentication-Results.
void recordIprev(Connection& tx, const ReverseName& rev) {
  auto& results = tx.client.authResults;
  bool recorded = std::any_of(results.begin(), results.end(),
                              [](const AuthResult& r) { return r.method == "iprev"; });
  if (recorded) return;
  if (auto r = iprevResult(tx, rev)) results.push_back(std::move(*r));
}

}  // namespace

std::vector<config::OptionSpec> RdnsStage::options() {
  std::vector<config::OptionSpec> specs;
  declareCheck(specs, "no_ptr", "reject",
               "550 5.7.25 Client host rejected: cannot find your hostname, [${client_address}]",
               "the client address has no PTR record");
  // Warns unless a policy says reject (strict.conf does): many legitimate servers have a PTR
  // whose name does not resolve back (the provider's generic name, a broken forward zone).
  declareCheck(specs, "not_confirmed", "warn",
               "550 5.7.25 Client host rejected: cannot find your hostname, [${client_address}] "
               "(${rdns_name} does not resolve to that address)",
               "no PTR name resolves back to the client address");
  declareCheck(specs, "dynamic", "off",
               "550 5.7.25 Client host rejected: [${client_address}] ${rdns_name} looks like a "
               "dynamic or residential address; please send through your provider's mail server",
               "the verified name looks dynamic or residential");
  specs.push_back({"dynamic_patterns", config::OptionKind::List,
                   "dsl dynamic dyn dhcp pool ppp dial cable broadband client residential", false,
                   0, 0, "name parts that mark a dynamic address"});
  specs.push_back(
      {"tempfail_reply", config::OptionKind::String,
       "450 4.7.25 Client host rejected: cannot find your hostname, [${client_address}]", false, 0,
       0, "reply when a lookup fails and on_failure = tempfail"});
  return specs;
}

StageSharedPtr RdnsStage::create(const config::Section& section, const StageContext& context) {
  auto s = std::make_shared<RdnsStage>();
  s->resolver_ = context.resolver;
  s->timeout_ = context.dnsTimeout;
  s->noPtr_ = parseCheck(section, "no_ptr", kVars);
  s->notConfirmed_ = parseCheck(section, "not_confirmed", kVars);
  s->dynamic_ = parseCheck(section, "dynamic", kVars);
  s->tempfailReply_ = parseTempfailTemplate(section, "tempfail_reply", kVars,
                                            "a DNS failure must get a 4xx reply, not {code}");
  for (const auto& p : section.getList("dynamic_patterns")) s->patterns_.push_back(lower(p));
  return s;
}

std::vector<dns::Query> RdnsStage::prefetch(Phase phase, const Connection& tx) const {
  if (phase != Phase::Connect || !tx.client.clientIp || !active()) return {};
  return {ptrQuery(*tx.client.clientIp)};
}

bool RdnsStage::looksDynamic(const std::string& rawName, const IpAddress& ip) const {
  std::string name = lower(rawName);
  // Label parts: "dsl-77-1-2-3.pool.example" -> dsl, 77, 1, 2, 3, pool, example
  std::string part;
  auto matchesPart = [&](const std::string& p) {
    for (const auto& pattern : patterns_) {
      if (p == pattern) return true;
      // "dsl123", "pool7": the pattern followed only by digits
      if (p.size() > pattern.size() && p.compare(0, pattern.size(), pattern) == 0 &&
          p.find_first_not_of("0123456789", pattern.size()) == std::string::npos)
        return true;
    }
    return false;
  };
  for (size_t i = 0; i <= name.size(); ++i) {
    char c = i < name.size() ? name[i] : '.';
    if (c == '.' || c == '-' || c == '_') {
      if (!part.empty() && matchesPart(part)) return true;
      part.clear();
    } else {
      part += c;
    }
  }
  if (ip.isV4()) {
    const auto& b = ip.bytes();
    char buf[64];
    for (const char* fmt : {"%u-%u-%u-%u", "%u.%u.%u.%u", "%u_%u_%u_%u", "%03u%03u%03u%03u"}) {
      std::snprintf(buf, sizeof buf, fmt, b[0], b[1], b[2], b[3]);
      if (name.find(buf) != std::string::npos) return true;
      std::snprintf(buf, sizeof buf, fmt, b[3], b[2], b[1], b[0]);
      if (name.find(buf) != std::string::npos) return true;
    }
  }
  return false;
}

Findings RdnsStage::onConnect(Connection& tx) const {
  const auto& c = tx.client;
  if (!active()) return {};
  if (!c.clientIp) return Decision::pass("rdns.skip", "no client address");
  bool confirm = !notConfirmed_.off() || !dynamic_.off();
  auto rev = lookupReverseName(tx, *resolver_, *c.clientIp, timeout_, confirm);
  recordIprev(tx, rev);
  TemplateVars vars{{"client_address", c.clientAddress}, {"client_name", c.clientName}};
  switch (rev.status) {
    case ReverseName::Status::PtrTempFail:
    case ReverseName::Status::ForwardTempFail: {
      // Only the checks that needed the failed lookup are undecided: it defers only if one of
      // them could have refused.
      bool ptr = rev.status == ReverseName::Status::PtrTempFail;
      vars["dns_error"] = rev.error;
      auto failure = Decision::dependencyTempfail(tempfailReply_.render(vars), "rdns.dns_failure",
                                                  (ptr ? "PTR: " : "forward: ") + rev.error);
      if (ptr) return undecided(std::move(failure), {&noPtr_, &notConfirmed_, &dynamic_});
      return undecided(std::move(failure), {&notConfirmed_, &dynamic_});
    }
    case ReverseName::Status::NoPtr:
      return failCheck(noPtr_, "rdns", vars, "no PTR for " + c.clientAddress);
    case ReverseName::Status::PtrOnly:
      return Decision::pass("rdns.ok", "PTR " + rev.ptrNames.front() + " (not confirmed: off)");
    case ReverseName::Status::NotConfirmed:
      vars["rdns_name"] = rev.ptrNames.front();
      return failCheck(notConfirmed_, "rdns", vars,
                       rev.ptrNames.front() + " does not resolve to " + c.clientAddress);
    case ReverseName::Status::Confirmed:
      break;
  }
  vars["rdns_name"] = rev.confirmedName;
  if (!dynamic_.off() && looksDynamic(rev.confirmedName, *c.clientIp))
    return failCheck(dynamic_, "rdns", vars, rev.confirmedName + " looks dynamic");
  return Decision::pass("rdns.ok", "confirmed " + rev.confirmedName);
}

}  // namespace mxguard::stages
