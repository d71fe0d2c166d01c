// callout_stage.cpp - cache first (address record, then domain record), then one probe per
// address at a time: MX in preference order (implicit MX from A/AAAA, RFC 7505 null MX), public
// addresses only, until a server gives an answer; the answer is cached with its own TTL.
// Must not: cache "unverified" for long (greylisting must be retried later, but not hammered).
#include "stages/callout/callout_stage.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>

#include "base/counters.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/strings.h"
#include "core/reply.h"
#include "stages/callout/public_address.h"
#include "stages/callout/sender_syntax.h"
#include "stages/check_action.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"sender",         "sender_domain", "mx_host",
                                  "mx_addr",        "remote_reply",  "why",
                                  "callout_cached", "client_address"};
const std::set<std::string> kMalformedVars{"sender", "why", "client_address"};

// The outcome as a metric label: snake_case, like every other label value.
const char* probeLabel(smtp::ProbeOutcome o) {
  switch (o) {
    case smtp::ProbeOutcome::Accepted:
      return "accepted";
    case smtp::ProbeOutcome::Rejected:
      return "rejected";
    case smtp::ProbeOutcome::NullSenderRefused:
      return "null_sender_refused";
    case smtp::ProbeOutcome::TempFailed:
      return "tempfailed";
    case smtp::ProbeOutcome::Unreachable:
      return "unreachable";
  }
  return "unknown";
}

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utcTime(int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string randomLocalPart() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const char* alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  std::string s = "mxguard-";
  for (int i = 0; i < 12; ++i) s += alphabet[rng() % 32];
  return s;
}

}  // namespace

std::vector<config::OptionSpec> CalloutStage::options() {
  using config::OptionKind;
  std::vector<config::OptionSpec> specs{
      {"port", OptionKind::Int, "25", false, 1, 65535, "SMTP port of the sender's servers"},
      {"helo_name", OptionKind::String, "", false, 0, 0, "our EHLO name; empty = our host name"},
      {"verify_sender", OptionKind::String, "", false, 0, 0,
       "MAIL FROM of the probe; empty = the null sender <> (RFC 5321 4.5.5)"},
      {"connect_timeout", OptionKind::Duration, "5s", false, 100, 120000, "per connection attempt"},
      {"command_timeout", OptionKind::Duration, "10s", false, 100, 300000, "per reply"},
      {"probe_timeout", OptionKind::Duration, "20s", false, 100, 600000,
       "the whole probe; keep below Postfix's milter_command_timeout (30s)"},
      {"max_hosts", OptionKind::Int, "3", false, 1, 10, "MX hosts tried at most"},
      {"max_addresses_per_host", OptionKind::Int, "2", false, 1, 20,
       "addresses of one MX host tried at most (a name with 200 A records is not 200 attempts)"},
      {"max_attempts", OptionKind::Int, "5", false, 1, 50,
       "connection attempts per probe at most, all MX hosts together"},
      {"accept_all_probe", OptionKind::Bool, "yes", false, 0, 0,
       "also probe a random local part to detect accept-all domains"},
      {"allow_private", OptionKind::Bool, "no", false, 0, 0,
       "allow probes to loopback, private, link-local and multicast addresses"},
      {"skip_domains", OptionKind::List, "", false, 0, 0,
       "sender domains never probed: our own domains and allow-listed ones"},
      {"max_probes", OptionKind::Int, "20", false, 1, 10000,
       "probes in progress at most (counted process-wide, so across reloads)"},
      {"max_probes_per_domain", OptionKind::Int, "2", false, 1, 1000,
       "probes in progress to one registered domain (with its subdomains) at most (counted "
       "process-wide, so across reloads)"},
      {"max_probes_per_domain_per_minute", OptionKind::Int, "60", false, 1, 100000,
       "probes started to one registered domain (with its subdomains) per minute at most (token "
       "bucket in the store, so shared by a fleet on Redis); beyond it the transaction gets "
       "reply_unverified per on_failure"},
      {"public_suffix_list", OptionKind::String, "/usr/share/publicsuffix/public_suffix_list.dafsa",
       false, 0, 0,
       "what tells the registered domain of a sender domain (Debian package publicsuffix), so "
       "the per-domain caps count a wildcard's subdomains together; empty: each domain apart"},
      {"address_accept_ttl", OptionKind::Duration, "1d", false, 1000, 0, "cache: address exists"},
      {"address_reject_ttl", OptionKind::Duration, "2h", false, 1000, 0, "cache: address rejected"},
      {"domain_ttl", OptionKind::Duration, "7d", false, 1000, 0, "cache: domain is accept-all"},
      {"tempfail_ttl", OptionKind::Duration, "5m", false, 1000, 0,
       "cache: no answer (4xx, unreachable); not re-probed before this"},
      {"on_null_sender_refused", OptionKind::String, "accept", false, 0, 0,
       "when the server refuses MAIL FROM:<>: accept, tempfail or reject"},
      {"reply_rejected", OptionKind::String,
       "550 5.1.7 <${sender}>: Sender address rejected: undeliverable address: host "
       "${mx_host}[${mx_addr}] said: ${remote_reply} (in reply to RCPT TO command)"
       "${callout_cached?; ${callout_cached}}",
       false, 0, 0, "the sender's server said the address does not exist"},
      {"reply_unverified", OptionKind::String,
       "450 4.1.7 <${sender}>: Sender address rejected: unverified address: ${why}"
       "${callout_cached?; ${callout_cached}}",
       false, 0, 0, "no answer could be had (4xx, timeout, unreachable); must be 4xx"},
      {"reply_null_mx", OptionKind::String,
       "550 5.7.27 <${sender}>: Sender address rejected: Domain ${sender_domain} does not accept "
       "mail (null MX, RFC 7505)",
       false, 0, 0, "the sender domain publishes a null MX"},
      {"reply_domain_not_found", OptionKind::String,
       "450 4.1.8 <${sender}>: Sender address rejected: Domain not found", false, 0, 0,
       "the sender domain does not exist (4xx by default, as Postfix: DNS may be catching up)"},
      {"reply_null_sender_refused", OptionKind::String,
       "550 5.7.1 <${sender}>: Sender address rejected: host ${mx_host}[${mx_addr}] refuses the "
       "null sender (RFC 5321 4.5.5), so the address cannot be verified: ${remote_reply}",
       false, 0, 0, "with on_null_sender_refused = reject"},
  };
  // Such a sender is never probed nor cached whatever this says; it only decides the reply.
  declareCheck(specs, "malformed", "reject",
               "553 5.1.7 <${sender}>: Sender address rejected: malformed address: ${why}",
               "a sender with control bytes or over RFC 5321's size limits (local part 64, "
               "domain 255, path 256 octets)");
  return specs;
}

StageSharedPtr CalloutStage::create(const config::Section& section, const StageContext& context) {
  auto s = std::make_shared<CalloutStage>();
  s->resolver_ = context.resolver;
  s->store_ = context.store;
  s->probe_ = context.probe ? context.probe : std::make_shared<smtp::SmtpProbe>();
  s->dnsTimeout_ = context.dnsTimeout;
  if (!s->store_) section.fail("port", "internal error: no store configured");
  auto& o = s->probeOptions_;
  o.port = static_cast<int>(section.getInt("port"));
  o.heloName =
      section.getString("helo_name").empty() ? context.ourHostname : section.getString("helo_name");
  o.verifySender = section.getString("verify_sender");
  o.connectTimeout = section.getDuration("connect_timeout");
  o.commandTimeout = section.getDuration("command_timeout");
  o.totalTimeout = section.getDuration("probe_timeout");
  s->maxHosts_ = static_cast<size_t>(section.getInt("max_hosts"));
  s->maxAddressesPerHost_ = static_cast<size_t>(section.getInt("max_addresses_per_host"));
  s->maxAttempts_ = static_cast<size_t>(section.getInt("max_attempts"));
  s->malformed_ = parseCheck(section, "malformed", kMalformedVars);
  s->acceptAllProbe_ = section.getBool("accept_all_probe");
  s->allowPrivate_ = section.getBool("allow_private");
  for (const auto& d : section.getList("skip_domains")) s->skipDomains_.insert(lower(d));
  s->onNullSenderRefused_ = section.getString("on_null_sender_refused");
  if (s->onNullSenderRefused_ != "accept" && s->onNullSenderRefused_ != "tempfail" &&
      s->onNullSenderRefused_ != "reject")
    section.fail("on_null_sender_refused", "invalid value '" + s->onNullSenderRefused_ +
                                               "' (use accept, tempfail or reject)");
  auto seconds = [&](const char* option) {
    return std::chrono::duration_cast<std::chrono::seconds>(section.getDuration(option));
  };
  s->acceptTtl_ = seconds("address_accept_ttl");
  s->rejectTtl_ = seconds("address_reject_ttl");
  s->domainTtl_ = seconds("domain_ttl");
  s->tempfailTtl_ = seconds("tempfail_ttl");
  s->rejected_ = parseTemplate(section, "reply_rejected", kVars);
  s->unverified_ = parseTempfailTemplate(section, "reply_unverified", kVars,
                                         "an unverified address must get a 4xx reply, not {code}");
  s->nullMx_ = parseTemplate(section, "reply_null_mx", kVars);
  s->domainNotFound_ = parseTemplate(section, "reply_domain_not_found", kVars);
  s->nullSenderRefused_ = parseTemplate(section, "reply_null_sender_refused", kVars);
  s->probesPerDomainPerMinute_ =
      static_cast<double>(section.getInt("max_probes_per_domain_per_minute"));
  s->probeLimits_.maxProbes = static_cast<size_t>(section.getInt("max_probes"));
  s->probeLimits_.maxPerDomain = static_cast<size_t>(section.getInt("max_probes_per_domain"));
  s->coordinator_ = context.calloutProbes ? context.calloutProbes : processProbes();
  if (const auto& path = section.getString("public_suffix_list"); !path.empty()) try {
      s->publicSuffixes_ = PublicSuffixList::load(path);
    } catch (const std::exception& e) {
      section.fail("public_suffix_list", e.what());
    }
  return s;
}

std::string CalloutStage::budgetDomain(const std::string& domain) const {
  return publicSuffixes_ ? publicSuffixes_->organizationalDomain(domain) : domain;
}

std::shared_ptr<CalloutProbes> CalloutStage::processProbes() {
  // Created on first use and kept to exit; each stage holds its own reference as well.
  static const auto probes = std::make_shared<CalloutProbes>();
  return probes;
}

bool CalloutStage::allowedTarget(const IpAddress& ip) const {
  return allowPrivate_ || isPublicAddress(ip);
}

Findings CalloutStage::onMail(Connection& tx) const {
  const std::string& sender = tx.message.sender;
  if (sender.empty()) return Decision::pass("callout.skip", "null sender: nothing to verify");
  // Before the store or a probe sees it: a CR/LF would end our RCPT TO and begin the sender's
  // own commands, and a 32 KB domain would become a 32 KB key.
  if (auto why = malformedSender(sender)) return malformed(sender, *why);
  auto at = sender.rfind('@');
  if (at == std::string::npos || at + 1 == sender.size())
    return Decision::pass("callout.skip", "sender without a domain");
  std::string domain = lower(sender.substr(at + 1));
  if (skipDomains_.count(domain))
    return Decision::pass("callout.skip", domain + " is in skip_domains");
  if (auto answer = fromCache(tx, sender, domain)) return *answer;
  metrics::countCacheLookup("callout", "miss");
  if (auto limited = probeRateLimited(sender, domain)) return *limited;
  return probeAndDecide(tx, sender, domain);
}

Findings CalloutStage::malformed(const std::string& sender, const std::string& why) const {
  std::string detail = "malformed address: " + why;
  if (malformed_.off()) return Decision::pass("callout.skip", detail);
  TemplateVars vars{{"sender", shownSender(sender)}, {"why", why}};
  return failCheck(malformed_, "callout", vars, detail);
}

// The cache: an address answer, else a domain known to accept everything; both in one round
// trip to the store.
std::optional<Findings> CalloutStage::fromCache(Connection& tx, const std::string& sender,
                                                const std::string& domain) const {
  auto cached = store_->getMany(
      {storeKey("callout:addr:", lower(sender)), storeKey("callout:domain:", domain)});
  const store::StoreResult& cachedAddress = cached[0];
  const store::StoreResult& cachedDomain = cached[1];
  if (cachedAddress.status == store::StoreStatus::Unavailable) {
    metrics::countCacheLookup("callout", "error");
    return unverifiedBecause(sender, "the verification cache is unavailable",
                             "callout.store_failure", cachedAddress.error);
  }
  if (cachedAddress.status == store::StoreStatus::Ok) {
    if (auto record = decodeAddress(cachedAddress.value)) {
      metrics::countCacheLookup("callout", "hit");
      Finding f{Finding::Kind::Answer, *record, "", "", true};
      if (record->result == AddressRecord::Result::TempFailed) {
        f.kind = Finding::Kind::Unverified;
        f.why = record->reply;
      }
      return Findings(decide(tx, sender, domain, f));
    }
  }
  if (cachedDomain.status == store::StoreStatus::Ok)
    if (auto d = decodeDomain(cachedDomain.value); d && d->acceptAll) {
      metrics::countCacheLookup("callout", "hit");
      Finding f{Finding::Kind::AcceptAll, {}, "", "", true};
      f.record.host = d->host;
      f.record.probedAt = d->probedAt;
      return Findings(decide(tx, sender, domain, f));
    }
  return std::nullopt;
}

// Our probes must not become a flood at one domain's servers (forged senders at a victim domain
// would otherwise make us probe it once per address). A store outage does not block.
std::optional<Decision> CalloutStage::probeRateLimited(const std::string& sender,
                                                       const std::string& domain) const {
  std::string budget = budgetDomain(domain);
  auto rate = store_->takeToken(storeKey("callout:rate:", budget), probesPerDomainPerMinute_,
                                probesPerDomainPerMinute_ / 60.0);
  if (rate.status != store::StoreStatus::Ok || rate.allowed) return std::nullopt;
  auto seconds = std::max<long long>(1, (rate.retryAfter.count() + 999) / 1000);
  std::string target = budget == domain ? domain : domain + " and other domains under " + budget;
  return unverifiedBecause(sender,
                           "too many verification probes to " + target +
                               " in the last minute; try again in " + std::to_string(seconds) +
                               " seconds",
                           "callout.rate", "probe rate cap reached for " + budget);
}

// One probe per address at a time, whichever check asks (the coordinator): this check runs it,
// or waits for the one running.
Findings CalloutStage::probeAndDecide(Connection& tx, const std::string& sender,
                                      const std::string& domain) const {
  std::string key = lower(sender);
  auto wait = probeOptions_.totalTimeout + dnsTimeout_ * 3;
  std::pair<CalloutProbes::Status, std::optional<Finding>> outcome;
  try {
    outcome = coordinator_->run(key, budgetDomain(domain), probeLimits_, wait, [&] {
      Finding f = probeFresh(tx, sender, domain);
      remember(sender, domain, f);
      return f;
    });
  } catch (const std::exception& e) {
    // The probe this check ran threw (a bug, memory exhaustion). Answered like the checks that
    // waited for it, as a dependency failure, so on_failure and observe mode still hold; the
    // milter's exception firewall would tempfail the command whatever they say. Nothing is
    // cached: nothing was learnt about the address.
    std::string what = sanitize(e.what());
    logOncePer("callout.internal_error", std::chrono::seconds(60), LogLevel::Error,
               "callout: the probe of <" + sanitize(key) + "> failed internally: " + what);
    countEvent("callout.internal_error");
    return internalError(sender, "the probe of " + key + " failed internally: " + what);
  }
  const auto& [status, finding] = outcome;
  if (status == CalloutProbes::Status::Failed)
    return internalError(sender,
                         "the probe of " + key + " this check waited for failed internally");
  if (status == CalloutProbes::Status::TooMany)
    return unverifiedBecause(sender, "too many verification probes in progress", "callout.busy",
                             "probe caps reached for " + budgetDomain(domain));
  if (!finding)
    return unverifiedBecause(sender, "verification did not finish in time", "callout.timeout", key);
  return decide(tx, sender, domain, *finding);
}

Decision CalloutStage::unverifiedBecause(const std::string& sender, const std::string& why,
                                         std::string reason, std::string detail) const {
  TemplateVars vars{{"sender", sender}, {"why", why}};
  return Decision::dependencyTempfail(unverified_.render(vars), std::move(reason),
                                      std::move(detail));
}

Decision CalloutStage::internalError(const std::string& sender, std::string detail) const {
  return unverifiedBecause(sender, "the verification probe failed internally",
                           "callout.internal_error", std::move(detail));
}

CalloutStage::Finding CalloutStage::probeFresh(Connection& tx, const std::string& sender,
                                               const std::string& domain) const {
  Finding f{Finding::Kind::Unverified, {}, "", "", false};
  auto mx = cachedLookup(tx, *resolver_, {domain, dns::RrType::MX}, dnsTimeout_);
  std::vector<std::string> hosts;
  if (mx.status == dns::LookupStatus::Ok) {
    std::vector<std::pair<int, std::string>> ordered;
    for (const auto& r : mx.records) {
      auto sp = r.find(' ');
      int pref = std::atoi(r.substr(0, sp).c_str());
      std::string host = sp == std::string::npos ? "" : r.substr(sp + 1);
      if (host.empty() || host == ".") {
        // RFC 7505: a null MX (the only MX, target ".") says the domain sends no mail. Next to
        // real MX hosts it is a misconfiguration: probe those.
        if (mx.records.size() == 1) {
          f.kind = Finding::Kind::NullMx;
          return f;
        }
        continue;
      }
      ordered.push_back({pref, host});
    }
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [pref, host] : ordered) hosts.push_back(host);
  } else if (mx.status == dns::LookupStatus::NoData) {
    hosts.push_back(domain);  // RFC 5321 5.1: no MX, the domain's own address is the MX
  } else if (mx.status == dns::LookupStatus::NotFound) {
    f.kind = Finding::Kind::DomainNotFound;
    return f;
  } else {
    f.why = "MX lookup for " + domain + " failed (" + mx.error + ")";
    return f;
  }
  return probeHosts(tx, hosts, sender, domain);
}

CalloutStage::Finding CalloutStage::probeHosts(Connection& tx,
                                               const std::vector<std::string>& hosts,
                                               const std::string& sender,
                                               const std::string& domain) const {
  Finding f{Finding::Kind::Unverified, {}, "", "", false};
  std::string lastProblem = "no reachable mail server for " + domain;
  // Caps on connection attempts: one domain with 3 MX hosts of 200 addresses each made 600.
  size_t tried = 0, attempts = 0;
  bool capped = false;
  smtp::ProbeOptions options = probeOptions_;
  if (acceptAllProbe_) options.randomLocalPart = randomLocalPart();
  auto deadline = std::chrono::steady_clock::now() + probeOptions_.totalTimeout;
  for (const auto& host : hosts) {
    if (tried >= maxHosts_ || std::chrono::steady_clock::now() >= deadline) break;
    if (attempts >= maxAttempts_) {
      capped = true;
      break;
    }
    ++tried;
    auto addresses = hostAddresses(tx, host);
    if (addresses.empty()) {
      lastProblem = "mail server " + host + " has no address";
      continue;
    }
    size_t atHost = 0;
    for (const auto& ip : addresses) {
      if (!allowedTarget(ip)) {
        lastProblem = "mail server " + host + "[" + ip.toString() + "] is not a public address";
        continue;
      }
      if (attempts >= maxAttempts_) capped = true;
      if (capped || atHost >= maxAddressesPerHost_) break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      ++attempts;
      ++atHost;
      options.totalTimeout = left;
      auto r = timedProbe(host, ip, sender, options);
      for (const auto& line : r.transcript) f.dialogue += (f.dialogue.empty() ? "" : " / ") + line;
      if (r.outcome == smtp::ProbeOutcome::Unreachable) {
        lastProblem =
            "host " + host + "[" + ip.toString() + "]: " + r.error + " (at " + r.command + ")";
        continue;
      }
      settle(f, r, host, ip);
      return f;
    }
    if (capped) break;
  }
  f.why = lastProblem;
  if (capped) f.why += "; gave up after " + std::to_string(attempts) + " connection attempts";
  return f;
}

std::vector<IpAddress> CalloutStage::hostAddresses(Connection& tx, const std::string& host) const {
  auto answers = cachedLookupAll(tx, *resolver_,
                                 {{host, dns::RrType::A}, {host, dns::RrType::AAAA}}, dnsTimeout_);
  std::vector<IpAddress> addresses;
  for (const auto& a : answers)
    if (a.status == dns::LookupStatus::Ok)
      for (const auto& r : a.records)
        if (auto ip = IpAddress::parse(r)) addresses.push_back(*ip);
  return addresses;
}

smtp::ProbeResult CalloutStage::timedProbe(const std::string& host, const IpAddress& ip,
                                           const std::string& sender,
                                           const smtp::ProbeOptions& options) const {
  auto probeStart = std::chrono::steady_clock::now();
  auto r = probe_->probe(host, ip.toString(), sender, options);
  metrics::observeDependency(metrics::Dependency::Callout,
                             std::chrono::steady_clock::now() - probeStart);
  metrics::countCalloutProbe(probeLabel(r.outcome));
  return r;
}

// A server answered (anything but Unreachable): what it said, as the finding.
void CalloutStage::settle(Finding& f, const smtp::ProbeResult& r, const std::string& host,
                          const IpAddress& ip) {
  f.record.host = host;
  f.record.address = ip.toString();
  f.record.command = r.command;
  // Bounded here, not only when cached, so a fresh answer quotes what a cached one will.
  f.record.reply = boundedReply(sanitize(
      r.reply.firstLine() +
      (r.reply.lines.size() > 1 ? " " + r.reply.text().substr(r.reply.lines.front().size()) : "")));
  f.record.probedAt = unixNow();
  switch (r.outcome) {
    case smtp::ProbeOutcome::Accepted:
      f.kind = r.randomAccepted.value_or(false) ? Finding::Kind::AcceptAll : Finding::Kind::Answer;
      f.record.result = AddressRecord::Result::Accepted;
      return;
    case smtp::ProbeOutcome::Rejected:
      f.kind = Finding::Kind::Answer;
      f.record.result = AddressRecord::Result::Rejected;
      return;
    case smtp::ProbeOutcome::NullSenderRefused:
      f.kind = Finding::Kind::Answer;
      f.record.result = AddressRecord::Result::NullSenderRefused;
      return;
    case smtp::ProbeOutcome::TempFailed:
    case smtp::ProbeOutcome::Unreachable:
      f.kind = Finding::Kind::Unverified;
      f.record.result = AddressRecord::Result::TempFailed;
      f.why = "host " + host + "[" + f.record.address + "] said: " + f.record.reply +
              " (in reply to " + r.command + " command)";
      return;
  }
}

void CalloutStage::remember(const std::string& sender, const std::string& domain,
                            const Finding& f) const {
  std::string key = storeKey("callout:addr:", lower(sender));
  switch (f.kind) {
    case Finding::Kind::AcceptAll: {
      DomainRecord d{true, f.record.host, f.record.probedAt};
      store_->set(storeKey("callout:domain:", domain), encode(d), domainTtl_);
      return;
    }
    case Finding::Kind::Answer:
      store_->set(key, encode(f.record),
                  f.record.result == AddressRecord::Result::Accepted ? acceptTtl_ : rejectTtl_);
      return;
    case Finding::Kind::Unverified: {
      // Greylisting or an unreachable server: remembered briefly so it is not hammered.
      AddressRecord r = f.record;
      r.result = AddressRecord::Result::TempFailed;
      r.reply = f.why;
      if (r.probedAt == 0) r.probedAt = unixNow();
      store_->set(key, encode(r), tempfailTtl_);
      return;
    }
    case Finding::Kind::NullMx:
    case Finding::Kind::DomainNotFound:
      return;  // DNS answers: the resolver caches those
  }
}

std::optional<Decision> CalloutStage::decide(const Connection& tx, const std::string& sender,
                                             const std::string& domain, const Finding& f) const {
  TemplateVars vars{{"sender", sender},
                    {"sender_domain", domain},
                    {"mx_host", f.record.host},
                    {"mx_addr", f.record.address},
                    {"remote_reply", f.record.reply},
                    {"why", f.why},
                    {"client_address", tx.client.clientAddress}};
  std::string cachedNote;
  if (f.cached) {
    cachedNote = "cached result of a probe at " + utcTime(f.record.probedAt);
    vars["callout_cached"] = cachedNote;
  }
  std::string prefix = f.cached ? "callout.cached_" : "callout.";
  std::string detail = f.cached ? "(cached) " : "";
  auto withDialogue = [&](std::string d) {
    return f.dialogue.empty() ? d : d + "; dialogue: " + f.dialogue;
  };
  switch (f.kind) {
    case Finding::Kind::NullMx:
      return Decision::reject(nullMx_.render(vars), "callout.null_mx", domain + " has a null MX");
    case Finding::Kind::DomainNotFound: {
      Reply r = domainNotFound_.render(vars);
      if (r.isPermanent()) return Decision::reject(r, "callout.domain_not_found", domain);
      return Decision::tempfail(r, "callout.domain_not_found", domain);
    }
    case Finding::Kind::AcceptAll:
      return Decision::pass(prefix + "accept_all", detail + domain + " accepts any address: " +
                                                       sender + " is unverifiable");
    case Finding::Kind::Unverified:
      return Decision::dependencyTempfail(unverified_.render(vars), prefix + "unverified",
                                          withDialogue(detail + f.why));
    case Finding::Kind::Answer:
      break;
  }
  std::string said =
      detail + "host " + f.record.host + "[" + f.record.address + "] said: " + f.record.reply;
  switch (f.record.result) {
    case AddressRecord::Result::Accepted:
      return Decision::pass(prefix + "accept", withDialogue(said));
    case AddressRecord::Result::Rejected:
      return Decision::reject(rejected_.render(vars), prefix + "reject", withDialogue(said));
    case AddressRecord::Result::NullSenderRefused: {
      std::string reason = prefix + "null_sender_refused";
      if (onNullSenderRefused_ == "reject")
        return Decision::reject(nullSenderRefused_.render(vars), reason, withDialogue(said));
      if (onNullSenderRefused_ == "tempfail") {
        vars["why"] = "host " + f.record.host + "[" + f.record.address +
                      "] refuses the null sender (RFC 5321 4.5.5): " + f.record.reply;
        return Decision::tempfail(unverified_.render(vars), reason, withDialogue(said));
      }
      return Decision::pass(reason,
                            withDialogue(said + "; accepted (on_null_sender_refused = accept)"));
    }
    case AddressRecord::Result::TempFailed:
      break;
  }
  return Decision::dependencyTempfail(unverified_.render(vars), prefix + "unverified", said);
}

}  // namespace mxguard::stages
