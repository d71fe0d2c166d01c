// rbl_stage.cpp - every zone's A goes out in the connect phase's one batch, the TXT only for the
// listing a rejection quotes; the verdict is a sum of weights. Refusal codes are only reported.
// Must not: turn a lookup failure into a rejection (it is a dependency failure: on_failure).
#include "stages/rbl/rbl_stage.h"

#include "base/counters.h"
#include "base/log.h"
#include "stages/check_action.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"client_address", "client_name", "helo_name", "rbl_domain",
                                  "rbl_code",       "rbl_txt",     "rbl_error"};

const char* kDefaultReply =
    "554 5.7.1 Service unavailable; Client host [${client_address}] blocked using "
    "${rbl_domain}${rbl_txt?; ${rbl_txt}}";
const char* kDefaultTempfail =
    "451 4.7.1 Service unavailable; Client host [${client_address}]: blocklist lookup failed at "
    "${rbl_domain} (${rbl_error}); try again later";

// Why an answer is not a listing, or "" when it may be one.
std::string notAListing(const std::array<uint8_t, 4>& a) {
  if (a[0] != 127) return "answer outside 127.0.0.0/8: the zone may have expired or be wildcarded";
  if (a[1] == 255 && a[2] == 255) {
    switch (a[3]) {
      case 252:
        return "query refused: typo in the DNSBL zone name (127.255.255.252)";
      case 254:
        return "query refused: queries through a public/open resolver are not answered "
               "(127.255.255.254)";
      case 255:
        return "query refused: excessive number of queries (127.255.255.255)";
      default:
        return "query refused by the list (127.255.255.x)";
    }
  }
  return "";
}

// The zones' answers summed up, in zone order; whether a failure mattered is only known once all
// zones are read.
struct Tally {
  struct Evidence {
    std::string text;
    bool failed = false;
    bool allowList = false;
  };
  std::vector<Evidence> evidence;
  int score = 0;
  // What the failed zones could have added (blocklists) or taken away (allow lists).
  int failedUp = 0, failedDown = 0;
  const RblZoneSpec* best = nullptr;  // the heaviest blocklist listing the client
  size_t bestIndex = 0;
  std::string bestCode, allowedBy;
  const RblZoneSpec* failedBlock = nullptr;  // the first blocklist that failed, and its error
  const RblZoneSpec* failedAllow = nullptr;  // the first allow list that failed, and its error
  std::string failedBlockError, failedAllowError;

  void addFailure(const RblZoneSpec& zone, const dns::LookupResult& a) {
    std::string error = a.error.empty() ? dns::toString(a.status) : a.error;
    if (zone.isAllowList()) {
      failedDown += zone.weight();
      if (!failedAllow) {
        failedAllow = &zone;
        failedAllowError = error;
      }
    } else {
      failedUp += zone.weight();
      if (!failedBlock) {
        failedBlock = &zone;
        failedBlockError = error;
      }
    }
    evidence.push_back({zone.domain() + ": " + dns::toString(a.status), true, zone.isAllowList()});
  }

  void addAnswer(const RblZoneSpec& zone, size_t index, const dns::LookupResult& a,
                 const std::string& clientAddress) {
    for (const auto& record : a.records) {
      auto ip = IpAddress::parse(record);
      if (!ip || !ip->isV4()) continue;
      std::array<uint8_t, 4> code{ip->bytes()[0], ip->bytes()[1], ip->bytes()[2], ip->bytes()[3]};
      if (std::string why = notAListing(code); !why.empty()) {
        countEvent("rbl.misconfigured_answer");
        logMessage(LogLevel::Error,
                   "rbl: zone " + zone.domain() + " answered " + record + " for " + clientAddress +
                       ": " + why + " - NOT treated as listed; check this zone's configuration");
        evidence.push_back({zone.domain() + "=" + record + " ignored (" + why + ")"});
        continue;
      }
      if (!zone.matches(code)) continue;
      score += zone.weight();
      evidence.push_back({zone.domain() + "=" + record});
      if (zone.isAllowList()) {
        if (allowedBy.empty()) allowedBy = zone.domain();
      } else if (!best || zone.weight() > best->weight()) {
        best = &zone;
        bestIndex = index;
        bestCode = record;
      }
      break;  // one listing per zone counts once
    }
  }

  // The evidence as the trace shows it; `deferred` decides which failures mattered.
  std::string detail(bool listed, bool deferred) const {
    std::string out;
    for (const auto& e : evidence) {
      out += (out.empty() ? "" : ", ") + e.text;
      bool matters = deferred && e.allowList == listed;
      if (e.failed && !matters) out += " (cannot change the verdict)";
    }
    return out;
  }
};

}  // namespace

std::vector<config::OptionSpec> RblStage::options() {
  using config::OptionKind;
  return {
      {"zone", OptionKind::String, "", true, 0, 0,
       "domain[=filter][*weight]; negative weight = allow list (repeatable)"},
      {"threshold", OptionKind::Int, "1", false, 1, 1000, "reject when the score reaches this"},
      {"reply", OptionKind::String, kDefaultReply, false, 0, 0, "reply for a listed client"},
      {"zone_reply", OptionKind::String, "", true, 0, 0, "DOMAIN TEMPLATE: per-zone reply"},
      {"tempfail_reply", OptionKind::String, kDefaultTempfail, false, 0, 0,
       "reply when a lookup fails and on_failure = tempfail"},
  };
}

StageSharedPtr RblStage::create(const config::Section& section, const StageContext& context) {
  auto stage = std::make_shared<RblStage>();
  stage->resolver_ = context.resolver;
  stage->timeout_ = context.dnsTimeout;
  for (const auto& v : section.getAll("zone")) {
    std::string error;
    auto z = RblZoneSpec::parse(v.text, &error);
    if (!z) section.fail(v, "zone", error);
    stage->zones_.push_back(*z);
  }
  if (stage->zones_.empty())
    section.fail("zone", "no zone configured: add e.g. 'zone = zen.spamhaus.org=127.0.0.[2..11]'");
  stage->threshold_ = static_cast<int>(section.getInt("threshold"));
  stage->reply_ = parseTemplate(section, "reply", kVars);
  stage->tempfailReply_ = parseTempfailTemplate(
      section, "tempfail_reply", kVars, "a lookup failure must get a 4xx reply, not {code}");
  for (const auto& v : section.getAll("zone_reply")) {
    auto sp = v.text.find(' ');
    std::string domain = v.text.substr(0, sp);
    bool known = false;
    for (const auto& z : stage->zones_) known = known || z.domain() == domain;
    if (!known)
      section.fail(v, "zone_reply", "'" + domain + "' is not one of the configured zones");
    try {
      stage->zoneReplies_.emplace(
          domain,
          ReplyTemplate::parse(sp == std::string::npos ? "" : v.text.substr(sp + 1), kVars));
    } catch (const TemplateError& e) {
      section.fail(v, "zone_reply", e.what());
    }
  }
  return stage;
}

std::vector<dns::Query> RblStage::queriesFor(const IpAddress& ip) const {
  // Only the A records: list operators meter every query and most clients are not listed, so
  // the TXT is asked later, for the one listing a rejection quotes.
  std::vector<dns::Query> qs;
  qs.reserve(zones_.size());
  std::string reversed = ip.reversedName();
  for (const auto& z : zones_) qs.push_back({reversed + "." + z.domain(), dns::RrType::A});
  return qs;
}

std::vector<dns::Query> RblStage::prefetch(Phase phase, const Connection& tx) const {
  if (phase != Phase::Connect || !tx.client.clientIp) return {};
  return queriesFor(*tx.client.clientIp);
}

Findings RblStage::onConnect(Connection& tx) const {
  const auto& conn = tx.client;
  if (!conn.clientIp) return Decision::pass("rbl.skip", "no client address");
  auto queries = queriesFor(*conn.clientIp);
  auto answers = cachedLookupAll(tx, *resolver_, queries, timeout_);
  Tally tally;
  for (size_t i = 0; i < zones_.size(); ++i) {
    const auto& a = answers[i];
    if (a.status == dns::LookupStatus::TempFail || a.status == dns::LookupStatus::PermFail)
      tally.addFailure(zones_[i], a);
    else if (a.status == dns::LookupStatus::Ok)
      tally.addAnswer(zones_[i], i, a, conn.clientAddress);
  }

  // A failed zone matters only if its answer could have changed the outcome: a failed blocklist
  // could have lifted a passing score to the threshold, a failed allow list could have pulled a
  // listed client below it. Rejecting a client an allow list may vouch for is the worse error, so
  // that case defers too; a definite listing that no failure could undo is rejected.
  int score = tally.score;
  bool listed = tally.best && score >= threshold_;
  bool deferred =
      listed ? score + tally.failedDown < threshold_ : score + tally.failedUp >= threshold_;
  std::string detail = tally.detail(listed, deferred);

  TemplateVars vars{{"client_address", conn.clientAddress},
                    {"client_name", conn.clientName},
                    {"helo_name", conn.helo}};
  if (deferred) {
    vars["rbl_domain"] = listed ? tally.failedAllow->domain() : tally.failedBlock->domain();
    vars["rbl_error"] = listed ? tally.failedAllowError : tally.failedBlockError;
    return Decision::dependencyTempfail(tempfailReply_.render(vars), "rbl.dns_failure", detail);
  }
  std::string scored = detail + " score " + std::to_string(score);
  std::string ofThreshold = scored + "/" + std::to_string(threshold_);
  if (listed) {
    vars["rbl_domain"] = tally.best->domain();
    vars["rbl_code"] = tally.bestCode;
    return Decision::reject(listedReply(tx, std::move(vars), queries[tally.bestIndex].name),
                            "rbl.listed", ofThreshold);
  }
  if (!tally.allowedBy.empty()) return Decision::pass("rbl.allowlisted", scored);
  if (tally.best) return Decision::pass("rbl.below_threshold", ofThreshold);
  return Decision::pass("rbl.not_listed",
                        detail.empty() ? std::to_string(zones_.size()) + " zones checked" : detail);
}

Reply RblStage::listedReply(Connection& tx, TemplateVars vars, const std::string& name) const {
  auto it = zoneReplies_.find(vars["rbl_domain"]);
  const ReplyTemplate& t = it != zoneReplies_.end() ? it->second : reply_;
  // Asked only when the reply can quote it. A failed TXT lookup only shortens the reply: the
  // listing itself was answered.
  if (t.uses("rbl_txt")) {
    auto txt = cachedLookup(tx, *resolver_, {name, dns::RrType::TXT}, timeout_);
    if (txt.status == dns::LookupStatus::Ok && !txt.records.empty())
      vars["rbl_txt"] = txt.records.front();
  }
  return t.render(vars);
}

}  // namespace mxguard::stages
