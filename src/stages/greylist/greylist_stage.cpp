// greylist_stage.cpp - exemptions first (no store call for them), then one store call that
// checks and updates the triplet and its network's counters; the reply gives the wait left.
// Must not: call the store for an exempt recipient, or count a pass before the store saw it.
#include "stages/greylist/greylist_stage.h"

#include <algorithm>

#include "base/metrics.h"
#include "base/strings.h"
#include "stages/host_name_syntax.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"recipient", "sender", "client_address", "wait",
                                  "greylist_network"};
const std::set<std::string> kFailureVars{"recipient", "sender", "client_address", "store_error"};

// "alice@example.org" is under "example.org" and "mail.example.org" is under it too.
bool domainUnder(std::string_view domain, std::string_view parent) {
  if (domain == parent) return true;
  return domain.size() > parent.size() &&
         domain.compare(domain.size() - parent.size(), parent.size(), parent) == 0 &&
         domain[domain.size() - parent.size() - 1] == '.';
}

std::string localPartOf(const std::string& address) {
  return lower(address.substr(0, address.rfind('@')));
}

// The SPF-passing MAIL FROM domain the spf stage recorded, if any.
std::string spfPassDomain(const Message& m) {
  for (const auto& r : m.authResults)
    if (r.method == "spf" && r.result == "pass")
      for (const auto& [k, v] : r.properties)
        if (k == "smtp.mailfrom") return canonicalHostName(v.substr(v.rfind('@') + 1));
  return "";
}

std::chrono::seconds durationOption(const config::Section& section, const char* option) {
  return std::chrono::duration_cast<std::chrono::seconds>(section.getDuration(option));
}

}  // namespace

std::vector<config::OptionSpec> GreylistStage::options() {
  using config::OptionKind;
  const long day = 86400L * 1000;
  std::vector<config::OptionSpec> s{
      {"delay", OptionKind::Duration, "5m", false, 0, day,
       "a retry passes once this long after the first attempt (0: the first attempt passes)"},
      {"retry_window", OptionKind::Duration, "2d", false, 60 * 1000, 30 * day,
       "... and no later than this after it (a later one starts over)"},
      {"pass_ttl", OptionKind::Duration, "35d", false, 60 * 1000, 365 * day,
       "a triplet that passed is remembered this long after its last message"},
      {"auto_allow_after", OptionKind::Int, "5", false, 0, 1000000,
       "passes after which the client network skips greylisting (0: never)"},
      {"auto_allow_ttl", OptionKind::Duration, "35d", false, 60 * 1000, 365 * day,
       "how long an auto-allowed network stays so after its last message"},
      {"ipv4_prefix", OptionKind::Int, "24", false, 8, 32, "the IPv4 client network (bits)"},
      {"ipv6_prefix", OptionKind::Int, "64", false, 16, 128, "the IPv6 client network (bits)"},
      {"normalize_sender", OptionKind::Bool, "yes", false, 0, 0,
       "remove BATV and SRS tags (they change with every message) from the sender"},
      {"exempt_clients", OptionKind::List, "", false, 0, 0,
       "clients never greylisted: addresses, CIDRs, host names, .example.net"},
      {"exempt_spf_domains", OptionKind::List, "", false, 0, 0,
       "senders whose SPF passes for these domains (or under them) are not greylisted"},
      {"pool_networks", OptionKind::List, "", false, 0, 0,
       "networks that retry from another address of a pool: the whole network is the client"},
      {"exempt_recipients", OptionKind::List, "postmaster abuse", false, 0, 0,
       "recipient local parts never greylisted"},
      {"reply_store_failure", OptionKind::String,
       "451 4.3.0 <${recipient}>: Recipient address rejected: greylisting state unavailable "
       "(${store_error}); try again later",
       false, 0, 0, "reply (4xx) when the store failed and on_failure = tempfail"},
  };
  declareCheck(s, "greylisted", "reject",
               "451 4.7.1 <${recipient}>: Recipient address rejected: Greylisted: please try "
               "again in ${wait}",
               "the first attempt of a triplet, or a retry before `delay` (a 4xx)");
  return s;
}

StageSharedPtr GreylistStage::create(const config::Section& section, const StageContext& context) {
  auto st = std::make_shared<GreylistStage>();
  st->store_ = context.store;
  st->times_.delay = durationOption(section, "delay");
  st->times_.retryWindow = durationOption(section, "retry_window");
  if (st->times_.retryWindow <= st->times_.delay)
    section.fail("retry_window", "must be longer than delay, or no retry could ever pass");
  st->times_.passTtl = durationOption(section, "pass_ttl");
  st->times_.autoAllowTtl = durationOption(section, "auto_allow_ttl");
  st->times_.autoAllowAfter = static_cast<int>(section.getInt("auto_allow_after"));
  st->ipv4Prefix_ = static_cast<int>(section.getInt("ipv4_prefix"));
  st->ipv6Prefix_ = static_cast<int>(section.getInt("ipv6_prefix"));
  st->normalizeSender_ = section.getBool("normalize_sender");
  std::string error;
  auto clients = ClientList::parse(section.getList("exempt_clients"), &error);
  if (!clients) section.fail("exempt_clients", error);
  st->exemptClients_ = std::move(*clients);
  for (const auto& text : section.getList("pool_networks")) {
    auto cidr = Cidr::parse(text);
    if (!cidr) section.fail("pool_networks", "'" + text + "' is not an address or CIDR");
    st->poolNetworks_.push_back({*cidr, cidr->toString()});
  }
  for (const auto& text : section.getList("exempt_spf_domains")) {
    std::string d = canonicalHostName(text);
    if (auto problem = hostNameProblem(d))
      section.fail("exempt_spf_domains", "'" + text + "' is not a domain name: " + *problem);
    st->exemptSpfDomains_.push_back(d);
  }
  for (const auto& local : section.getList("exempt_recipients"))
    st->exemptLocalParts_.push_back(lower(local));
  st->greylisted_ = parseCheck(section, "greylisted", kVars);
  if (!st->greylisted_.off() && st->greylisted_.reply.code() >= 500)
    section.fail("reply_greylisted", "greylisting asks for a retry: the reply must be 4xx");
  st->storeFailureReply_ =
      parseTempfailTemplate(section, "reply_store_failure", kFailureVars,
                            "must be 4xx: an unavailable store is a temporary failure");
  return st;
}

std::optional<std::string> GreylistStage::exemption(const Connection& tx,
                                                    const std::string& recipient) const {
  if (!tx.client.authUser.empty()) return "authenticated as " + tx.client.authUser;
  if (auto entry = exemptClients_.match(tx.client)) return "client matches " + *entry;
  std::string local = localPartOf(recipient);
  if (std::find(exemptLocalParts_.begin(), exemptLocalParts_.end(), local) !=
      exemptLocalParts_.end())
    return "recipient " + local + "@ is exempt";
  if (!exemptSpfDomains_.empty()) {
    std::string domain = spfPassDomain(tx.message);
    for (const auto& d : exemptSpfDomains_)
      if (!domain.empty() && domainUnder(domain, d))
        return "SPF passes for " + domain + " (exempt_spf_domains " + d + ")";
  }
  return std::nullopt;
}

std::string GreylistStage::networkOf(const IpAddress& ip, bool* pool) const {
  for (const auto& [cidr, text] : poolNetworks_)
    if (cidr.contains(ip)) {
      *pool = true;
      return text;
    }
  *pool = false;
  return clientNetwork(ip, ipv4Prefix_, ipv6Prefix_);
}

Findings GreylistStage::onRcpt(Connection& tx, const std::string& recipient) const {
  if (greylisted_.off()) return std::nullopt;
  if (!tx.client.clientIp) return Decision::pass("greylist.skip", "no client address");
  if (auto why = exemption(tx, recipient)) return Decision::pass("greylist.exempt", sanitize(*why));
  bool pool = false;
  GreylistTriplet t{networkOf(*tx.client.clientIp, &pool),
                    normalizeSender(tx.message.sender, normalizeSender_), lower(recipient)};
  store::GreylistTimes times = times_;
  times.now =
      std::chrono::duration_cast<std::chrono::seconds>(tx.clock().wallNow().time_since_epoch())
          .count();
  store::GreylistResult r =
      store_->greylist({tripletKey(t), networkKey(t.network), autoAllowKey(t.network)}, times);
  std::string who = "(" + t.network + ", " + t.sender + ", " + t.recipient + ")";
  using store::GreylistVerdict;
  if (r.status != store::StoreStatus::Ok) {
    TemplateVars vars{{"recipient", recipient},
                      {"sender", tx.message.sender},
                      {"client_address", tx.client.clientAddress},
                      {"store_error", r.error}};
    return undecided(
        Decision::dependencyTempfail(storeFailureReply_.render(vars), "greylist.store_failure",
                                     sanitize(who + ": store unavailable (" + r.error + ")")),
        {&greylisted_});
  }
  std::string allowed = r.nowAutoAllowed ? "; the network is now auto-allowed" : "";
  switch (r.verdict) {
    case GreylistVerdict::AutoAllowed:
      return Decision::pass("greylist.auto_allowed", sanitize(t.network + " is auto-allowed"));
    case GreylistVerdict::Known:
      return Decision::pass("greylist.known", sanitize(who + " passed before" + allowed));
    case GreylistVerdict::PassedRetry:
      if (times_.delay.count() == 0)  // no retry was asked for: not a retry delay to count
        return Decision::pass("greylist.passed_retry",
                              sanitize(who + " first attempt passes (delay = 0)" + allowed));
      metrics::observeGreylistRetry(pool, r.waited);
      return Decision::pass(
          "greylist.passed_retry",
          sanitize(who + " retried after " + std::to_string(r.waited.count()) + " s" + allowed));
    case GreylistVerdict::Greylisted:
      break;
  }
  return greylisted(tx, recipient, t, r);
}

Findings GreylistStage::greylisted(const Connection& tx, const std::string& recipient,
                                   const GreylistTriplet& t, const store::GreylistResult& r) const {
  std::string wait = humanDuration(r.waitLeft);
  TemplateVars vars{{"recipient", recipient},
                    {"sender", tx.message.sender},
                    {"client_address", tx.client.clientAddress},
                    {"wait", wait},
                    {"greylist_network", t.network}};
  std::string detail = "(" + t.network + ", " + t.sender + ", " + t.recipient + ") " +
                       (r.firstAttempt ? "first attempt" : "retried too early") +
                       "; a retry passes in " + wait;
  return Findings(failCheck(greylisted_, "greylist", vars, sanitize(detail)));
}

}  // namespace mxguard::stages
