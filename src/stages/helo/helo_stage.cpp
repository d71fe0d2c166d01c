// helo_stage.cpp - checks in Postfix's order, each reported with its mode; the Engine logs the
// warnings and applies the first enforced refusal, where this stage stops checking. A very long
// HELO is shortened in the reply (the reply must stay readable), and its real length is named.
// Must not: echo more than 64 octets of a client's HELO into a reply.
#include "stages/helo/helo_stage.h"

#include <algorithm>

#include "base/strings.h"
#include "stages/host_name_syntax.h"
#include "stages/reverse_name.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"helo_name",   "helo_problem", "client_address",
                                  "client_name", "our_hostname", "dns_error"};
constexpr size_t kShownHelo = 64;

bool isLiteral(const std::string& h) {
  return h.size() >= 2 && h.front() == '[' && h.back() == ']';
}

// A client connecting from one of our own addresses may name us (a local relay, a health check).
bool clientIsUs(const Client& c) {
  return c.clientIp && std::find(c.ourAddresses.begin(), c.ourAddresses.end(), *c.clientIp) !=
                           c.ourAddresses.end();
}

}  // namespace

std::vector<config::OptionSpec> HeloStage::options() {
  std::vector<config::OptionSpec> specs;
  const std::string invalid =
      "501 5.5.2 <${helo_name}>: Helo command rejected: Invalid name${helo_problem? "
      "(${helo_problem})}";
  declareCheck(specs, "missing", "reject", "503 5.5.1 Error: send HELO/EHLO first",
               "no HELO/EHLO before MAIL FROM");
  declareCheck(specs, "invalid", "reject", invalid, "HELO name breaks RFC 5321 syntax");
  declareCheck(specs, "bare_ip", "reject", invalid, "HELO is an IP address without brackets");
  // These two warn unless a policy says reject (strict.conf does): legitimate servers behind NAT
  // or with short names send them, and a built-in default must not lose their mail.
  declareCheck(specs, "non_fqdn", "warn",
               "504 5.5.2 <${helo_name}>: Helo command rejected: need fully-qualified hostname",
               "HELO name without a dot");
  declareCheck(specs, "literal_mismatch", "warn",
               "550 5.7.1 <${helo_name}>: Helo command rejected: address literal does not match "
               "your address [${client_address}]",
               "address literal is not the client's address");
  declareCheck(specs, "forged", "reject",
               "550 5.7.1 <${helo_name}>: Helo command rejected: you are not ${our_hostname}; send "
               "your own host name",
               "HELO claims our own host name or address");
  declareCheck(specs, "unresolvable", "off",
               "550 5.7.1 <${helo_name}>: Helo command rejected: Host not found",
               "HELO name has no A/AAAA record");
  declareCheck(specs, "reverse_mismatch", "off",
               "550 5.7.1 <${helo_name}>: Helo command rejected: does not match your host name "
               "${client_name}",
               "HELO name is not the client's verified reverse name");
  specs.push_back({"tempfail_reply_unresolvable", config::OptionKind::String,
                   "450 4.7.1 <${helo_name}>: Helo command rejected: Host not found (DNS lookup "
                   "failed temporarily: ${dns_error}); try again later",
                   false, 0, 0, "reply when the HELO lookup fails and on_failure = tempfail"});
  specs.push_back({"tempfail_reply_reverse_mismatch", config::OptionKind::String,
                   "450 4.7.1 <${helo_name}>: Helo command rejected: cannot verify your host name "
                   "(DNS lookup failed temporarily: ${dns_error}); try again later",
                   false, 0, 0, "reply when the reverse lookup fails and on_failure = tempfail"});
  return specs;
}

StageSharedPtr HeloStage::create(const config::Section& section, const StageContext& context) {
  auto s = std::make_shared<HeloStage>();
  s->resolver_ = context.resolver;
  s->timeout_ = context.dnsTimeout;
  s->ourHostname_ = context.ourHostname;
  s->missing_ = parseCheck(section, "missing", kVars);
  s->invalid_ = parseCheck(section, "invalid", kVars);
  s->bareIp_ = parseCheck(section, "bare_ip", kVars);
  s->nonFqdn_ = parseCheck(section, "non_fqdn", kVars);
  s->literalMismatch_ = parseCheck(section, "literal_mismatch", kVars);
  s->forged_ = parseCheck(section, "forged", kVars);
  s->unresolvable_ = parseCheck(section, "unresolvable", kVars);
  s->reverseMismatch_ = parseCheck(section, "reverse_mismatch", kVars);
  s->unresolvableTempfail_ = parseTemplate(section, "tempfail_reply_unresolvable", kVars);
  s->reverseTempfail_ = parseTemplate(section, "tempfail_reply_reverse_mismatch", kVars);
  // Both parsed before either is judged: a broken second template is the error reported.
  const std::string why = "a DNS failure must get a 4xx reply";
  requireTempfail(section, "tempfail_reply_unresolvable", s->unresolvableTempfail_, why);
  requireTempfail(section, "tempfail_reply_reverse_mismatch", s->reverseTempfail_, why);
  return s;
}

TemplateVars HeloStage::varsFor(const Connection& tx, const std::string& problem) const {
  const auto& c = tx.client;
  std::string shown = c.helo.size() > kShownHelo ? c.helo.substr(0, kShownHelo) + "..." : c.helo;
  return {{"helo_name", shown},
          {"helo_problem", problem},
          {"client_address", c.clientAddress},
          {"client_name", c.clientName},
          {"our_hostname", c.ourHostname.empty() ? ourHostname_ : c.ourHostname}};
}

std::vector<dns::Query> HeloStage::prefetch(Phase phase, const Connection& tx) const {
  std::vector<dns::Query> qs;
  if (phase != Phase::Helo) return qs;
  const std::string& h = tx.client.helo;
  if (!unresolvable_.off() && !isLiteral(h) && !hostNameProblem(h) &&
      h.find('.') != std::string::npos) {
    qs.push_back({canonicalHostName(h), dns::RrType::A});
    qs.push_back({canonicalHostName(h), dns::RrType::AAAA});
  }
  if (!reverseMismatch_.off() && tx.client.clientIp) qs.push_back(ptrQuery(*tx.client.clientIp));
  return qs;
}

Findings HeloStage::onMail(Connection& tx) const {
  if (tx.client.heloSeen || missing_.off()) return {};
  return failCheck(missing_, "helo", varsFor(tx, ""), "no HELO/EHLO before MAIL FROM");
}

// Postfix's order, one function per check. The first four end checking whatever their mode: the
// later checks could not read a name that is empty, a literal, a bare address or malformed. The
// host-name checks run until one refuses.
Findings HeloStage::onHelo(Connection& tx) const {
  Findings out;
  const std::string& h = tx.client.helo;
  if (h.empty())
    fail(tx, invalid_, "empty name", "empty HELO", out);
  else if (isLiteral(h))
    checkLiteral(tx, out);
  else if (auto ip = IpAddress::parse(h))
    checkBareIp(tx, *ip, out);
  else if (auto problem = hostNameProblem(h))
    fail(tx, invalid_, *problem, *problem, out);
  else
    checkHostName(tx, canonicalHostName(h), out);
  if (out.empty()) return Decision::pass("helo.ok", sanitize(h.substr(0, kShownHelo)));
  return out;
}

void HeloStage::fail(const Connection& tx, const Check& check, const std::string& problem,
                     const std::string& detail, Findings& out) const {
  out.add(failCheck(check, "helo", varsFor(tx, problem), detail));
}

void HeloStage::checkLiteral(Connection& tx, Findings& out) const {
  auto literal = IpAddress::parse(tx.client.helo);
  if (!literal) {
    fail(tx, invalid_, "invalid address literal", "bad literal", out);
    return;
  }
  checkLiteralIsClient(tx, *literal, out);
  if (!out.refused()) checkLiteralNotOurs(tx, *literal, out);
}

void HeloStage::checkLiteralIsClient(Connection& tx, const IpAddress& literal,
                                     Findings& out) const {
  const auto& c = tx.client;
  if (c.clientIp && !(literal == *c.clientIp))
    fail(tx, literalMismatch_, "",
         "literal " + literal.toString() + " vs client " + c.clientAddress, out);
}

void HeloStage::checkLiteralNotOurs(Connection& tx, const IpAddress& literal, Findings& out) const {
  const auto& ours = tx.client.ourAddresses;
  if (!clientIsUs(tx.client) && std::find(ours.begin(), ours.end(), literal) != ours.end())
    fail(tx, forged_, "", "literal of our own address " + literal.toString(), out);
}

void HeloStage::checkBareIp(Connection& tx, const IpAddress& ip, Findings& out) const {
  std::string fix = ip.isV4() ? "[" + ip.toString() + "]" : "[IPv6:" + ip.toString() + "]";
  fail(tx, bareIp_, "an IP address must be written as an address literal: " + fix, "bare IP", out);
}

void HeloStage::checkHostName(Connection& tx, const std::string& name, Findings& out) const {
  using NameCheck = void (HeloStage::*)(Connection&, const std::string&, Findings&) const;
  for (NameCheck check : {&HeloStage::checkFullyQualified, &HeloStage::checkNotOurName,
                          &HeloStage::checkResolvable, &HeloStage::checkReverseName}) {
    (this->*check)(tx, name, out);
    if (out.refused()) return;
  }
}

void HeloStage::checkFullyQualified(Connection& tx, const std::string& name, Findings& out) const {
  if (name.find('.') == std::string::npos) fail(tx, nonFqdn_, "", "no dot in HELO name", out);
}

void HeloStage::checkNotOurName(Connection& tx, const std::string& name, Findings& out) const {
  const auto& c = tx.client;
  std::string ours = canonicalHostName(c.ourHostname.empty() ? ourHostname_ : c.ourHostname);
  if (!ours.empty() && name == ours && !clientIsUs(c))
    fail(tx, forged_, "", "HELO claims to be " + ours, out);
}

void HeloStage::checkResolvable(Connection& tx, const std::string& name, Findings& out) const {
  if (unresolvable_.off() || name.find('.') == std::string::npos) return;
  auto answers = cachedLookupAll(tx, *resolver_,
                                 {{name, dns::RrType::A}, {name, dns::RrType::AAAA}}, timeout_);
  bool found = false, temp = false;
  std::string error;
  for (const auto& a : answers) {
    found = found || a.status == dns::LookupStatus::Ok;
    if (a.status == dns::LookupStatus::TempFail) {
      temp = true;
      error = a.error.empty() ? "temporary failure" : a.error;
    }
  }
  if (!found && temp) {
    auto vars = varsFor(tx, "");
    vars["dns_error"] = error;
    out.add(Decision::dependencyTempfail(unresolvableTempfail_.render(vars), "helo.dns_failure",
                                         "A/AAAA " + name + ": " + error)
                .under(unresolvable_.mode, unresolvable_.name));
  } else if (!found) {
    fail(tx, unresolvable_, "", "no A/AAAA for " + name, out);
  }
}

void HeloStage::checkReverseName(Connection& tx, const std::string& name, Findings& out) const {
  const auto& c = tx.client;
  if (reverseMismatch_.off() || !c.clientIp) return;
  auto rev = lookupReverseName(tx, *resolver_, *c.clientIp, timeout_);
  if (rev.status == ReverseName::Status::PtrTempFail ||
      rev.status == ReverseName::Status::ForwardTempFail) {
    auto vars = varsFor(tx, "");
    vars["dns_error"] = rev.error;
    out.add(Decision::dependencyTempfail(reverseTempfail_.render(vars), "helo.dns_failure",
                                         "reverse lookup: " + rev.error)
                .under(reverseMismatch_.mode, reverseMismatch_.name));
    return;
  }
  bool confirmed = rev.status == ReverseName::Status::Confirmed;
  if (!confirmed || canonicalHostName(rev.confirmedName) != name) {
    auto vars = varsFor(tx, "");
    vars["client_name"] = confirmed ? rev.confirmedName : "unknown";
    out.add(failCheck(reverseMismatch_, "helo", vars, "verified name " + vars["client_name"]));
  }
}

}  // namespace mxguard::stages
