// dmarc_stage.cpp - per From domain: discover, judge, sample (pct), exempt, then the local
// policy (policy_reject / policy_quarantine, observe); the strictest domain decides. Every
// evaluated domain gets its dmarc= result; the deciding one's facts go into the record.
// Must not: reject on a temperror, or let an exemption pass silently (each is a report override
// and in the trace detail).
#include "stages/dmarc/dmarc_stage.h"

#include <algorithm>
#include <random>

#include "base/strings.h"
#include "stages/from_domains.h"
#include "stages/host_name_syntax.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"from_domain",         "from_domains",   "dmarc_policy",
                                  "dmarc_policy_domain", "dmarc_evidence", "dmarc_problem",
                                  "client_address",      "sender"};

const char* kDefaultPsl = "/usr/share/publicsuffix/public_suffix_list.dafsa";

const char* kRejectReply =
    "550 5.7.26 Unauthenticated email from ${from_domain} is not accepted due to the domain's "
    "DMARC policy (${dmarc_policy}); ${dmarc_evidence}; the sender must pass SPF or DKIM "
    "aligned with ${from_domain}";
const char* kTemperrorReply =
    "451 4.7.26 Message deferred: the DMARC policy of ${from_domain} could not be looked up "
    "(${dmarc_problem}); try again later";

// What pct sampling hashes: the Message-ID, else the queue id, else the envelope.
std::string messageIdentity(const Connection& tx, const std::string& fromDomain) {
  for (const auto& h : tx.message.headers)
    if (equalsIgnoreCase(h.name, "message-id")) return trim(h.value);
  if (!tx.message.queueId.empty()) return tx.message.queueId;
  return fromDomain + " " + tx.message.sender;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

// Filled as the header fields go by (so prefetch, which sees the Connection as const, and the
// end of message read one parse of From).
struct DmarcStage::FromState : StageState {
  size_t fields = 0;                 // From fields seen
  std::vector<std::string> domains;  // distinct, in order, at most kMaxDomainsKept
  // Per domain (same index): whether it is a domain name (else nothing is looked up for it).
  std::vector<bool> valid;
  static constexpr size_t kMaxDomainsKept = 8;
};

struct DmarcStage::Outcome {
  std::string fromDomain;
  DmarcDiscovery::Status status = DmarcDiscovery::Status::None;
  std::string problem;               // status other than Found
  DmarcJudgement judgement;          // status Found
  std::string policyTag;             // "p=reject", "sp=quarantine"
  std::string disposition = "none";  // what the domain's policy gets here (before warn/observe)
  std::vector<std::string> notes;    // sampling, exemption, record repairs: for the trace

  bool found() const { return status == DmarcDiscovery::Status::Found; }
  int severity() const {
    if (disposition == "reject") return 4;
    if (disposition == "quarantine") return 3;
    if (status == DmarcDiscovery::Status::TempError) return 2;
    return found() && judgement.facts.result == "fail" ? 1 : 0;
  }
};

std::vector<config::OptionSpec> DmarcStage::options() {
  using config::OptionKind;
  std::vector<config::OptionSpec> s{
      {"public_suffix_list", OptionKind::String, kDefaultPsl, false, 0, 0,
       "the Public Suffix List (Debian package publicsuffix) for organisational domains"},
      {"pct_seed", OptionKind::String, "", false, 0, 0,
       "keys pct= sampling; empty: a random key per policy load (set one to make it repeatable)"},
      {"policy_reject", OptionKind::String, "reject", false, 0, 0,
       "what a failing p=reject domain's mail gets: reject | quarantine | warn | off"},
      {"reply_policy_reject", OptionKind::String, kRejectReply, false, 0, 0,
       "reply when a p=reject domain's mail is rejected"},
      {"policy_quarantine", OptionKind::String, "quarantine", false, 0, 0,
       "what a failing p=quarantine domain's mail gets: quarantine | warn | off"},
      {"quarantine_with", OptionKind::String, "header", false, 0, 0,
       "header: deliver with quarantine_header added; hold: the MTA's hold queue"},
      {"quarantine_header", OptionKind::String, "X-Mxguard-Quarantine", false, 0, 0,
       "the header field quarantine_with = header adds"},
      {"trusted_forwarders", OptionKind::List, "", false, 0, 0,
       "clients whose failing mail is not rejected or quarantined (recorded as trusted_forwarder)"},
      {"mailing_lists", OptionKind::List, "", false, 0, 0,
       "mailing list hosts whose failing mail is not rejected or quarantined (mailing_list)"},
      {"reply_temperror", OptionKind::String, kTemperrorReply, false, 0, 0,
       "reply when the policy lookup failed and on_failure = tempfail (4xx)"},
  };
  declareCheck(s, "no_from", "reject",
               "550 5.7.1 Message rejected: no author domain in the From header field, so DMARC "
               "cannot be applied (RFC 7489 6.6.1; RFC 5322 3.6 requires one From)",
               "the message has no From field, or its From names no domain");
  declareCheck(s, "multiple_from", "reject",
               "550 5.7.1 Message rejected: the From header field names several domains "
               "(${from_domains}), so DMARC cannot tell whose policy applies (RFC 7489 6.6.1)",
               "several From fields, or a From with addresses of several domains");
  return s;
}

StageSharedPtr DmarcStage::create(const config::Section& section, const StageContext& context) {
  auto s = std::make_shared<DmarcStage>();
  s->resolver_ = context.resolver;
  s->timeout_ = context.dnsTimeout;
  s->observe_ = context.observe;
  s->pctSeed_ = section.getString("pct_seed");
  if (s->pctSeed_.empty()) {
    std::random_device random;
    for (int i = 0; i < 4; ++i) s->pctSeed_ += std::to_string(random());
  }
  try {
    s->psl_ = PublicSuffixList::load(section.getString("public_suffix_list"));
  } catch (const std::runtime_error& e) {
    section.fail("public_suffix_list", e.what());
  }
  std::string onReject = section.getString("policy_reject");
  if (onReject == "reject")
    s->onReject_ = PolicyAction::Reject;
  else if (onReject == "quarantine")
    s->onReject_ = PolicyAction::Quarantine;
  else if (onReject == "warn")
    s->onReject_ = PolicyAction::Warn;
  else if (onReject == "off")
    s->onReject_ = PolicyAction::Off;
  else
    section.fail("policy_reject",
                 "invalid value '" + onReject + "' (use reject, quarantine, warn or off)");
  std::string onQuarantine = section.getString("policy_quarantine");
  if (onQuarantine == "quarantine")
    s->onQuarantine_ = PolicyAction::Quarantine;
  else if (onQuarantine == "warn")
    s->onQuarantine_ = PolicyAction::Warn;
  else if (onQuarantine == "off")
    s->onQuarantine_ = PolicyAction::Off;
  else
    section.fail("policy_quarantine",
                 "invalid value '" + onQuarantine + "' (use quarantine, warn or off)");
  std::string with = section.getString("quarantine_with");
  if (with != "header" && with != "hold")
    section.fail("quarantine_with", "invalid value '" + with + "' (use header or hold)");
  s->quarantineByHeader_ = with == "header";
  s->quarantineHeader_ = section.getString("quarantine_header");
  if (s->quarantineHeader_.empty() ||
      s->quarantineHeader_.find_first_of(": \t\r\n") != std::string::npos)
    section.fail("quarantine_header", "'" + s->quarantineHeader_ + "' is not a header field name");
  s->rejectReply_ = parseTemplate(section, "reply_policy_reject", kVars);
  if (s->rejectReply_.code() < 500)
    section.fail("reply_policy_reject",
                 "a rejection needs a 5xx reply, not " + std::to_string(s->rejectReply_.code()));
  s->temperrorReply_ = parseTempfailTemplate(
      section, "reply_temperror", kVars,
      "a policy lookup that failed can only be deferred with a 4xx reply, not {code}");
  for (auto [option, list] : {std::pair{"trusted_forwarders", &s->trustedForwarders_},
                              std::pair{"mailing_lists", &s->mailingLists_}}) {
    std::string error;
    auto parsed = ClientList::parse(section.getList(option), &error);
    if (!parsed) section.fail(option, error);
    *list = std::move(*parsed);
  }
  s->noFrom_ = parseCheck(section, "no_from", kVars);
  s->multipleFrom_ = parseCheck(section, "multiple_from", kVars);
  return s;
}

Findings DmarcStage::onHeader(Connection& tx, const Header& header) const {
  if (!equalsIgnoreCase(header.name, "from")) return std::nullopt;
  auto& st = tx.messageState<FromState>(this);
  ++st.fields;
  for (auto& d : fromDomains(header.value)) {
    if (st.domains.size() >= FromState::kMaxDomainsKept) break;
    if (std::find(st.domains.begin(), st.domains.end(), d) != st.domains.end()) continue;
    st.valid.push_back(!hostNameProblem(d));
    st.domains.push_back(std::move(d));
  }
  return std::nullopt;
}

std::vector<dns::Query> DmarcStage::prefetch(Phase phase, const Connection& tx) const {
  const FromState* st = phase == Phase::Eoh ? tx.findMessageState<FromState>(this) : nullptr;
  if (!st) return {};
  std::vector<dns::Query> qs;
  for (size_t i = 0; i < st->domains.size() && i < kMaxFromDomains; ++i)
    if (st->valid[i]) qs.push_back(dmarcPolicyQuery(st->domains[i]));
  return qs;
}

DmarcStage::Outcome DmarcStage::evaluate(Connection& tx, const std::string& fromDomain,
                                         bool valid) const {
  Outcome o;
  o.fromDomain = fromDomain;
  if (!valid) {  // nothing is looked up for a name that is not a domain
    o.status = DmarcDiscovery::Status::PermError;
    o.problem = "From domain '" + sanitize(fromDomain) +
                "' is not a domain name: " + hostNameProblem(fromDomain).value_or("?");
    return o;
  }
  DmarcDiscovery d = discoverDmarcPolicy(tx, *resolver_, tx.dnsBudget.allow(timeout_), fromDomain,
                                         *psl_, records_);
  o.status = d.status;
  o.problem = d.problem;
  if (!o.found()) return o;
  o.judgement = judgeDmarc(fromDomain, d.policy, tx.message.authResults, tx.message.sender, *psl_);
  const DmarcRecord& rec = d.policy.record();
  for (const auto& n : rec.notes) o.notes.push_back("record: " + n);
  bool sp = d.policy.organizational && !rec.sp.empty();
  o.policyTag = (sp ? "sp=" : "p=") + o.judgement.requested;
  if (o.judgement.facts.result == "fail") {
    int sample = percentageSample(pctSeed_, messageIdentity(tx, fromDomain));
    o.disposition = applyPercentage(o.judgement.requested, rec.pct, sample, o.judgement.facts);
    if (o.disposition != o.judgement.requested)
      o.notes.push_back("pct=" + std::to_string(rec.pct) + " sampled out (" +
                        std::to_string(sample) + " >= " + std::to_string(rec.pct) + ")");
    applyExemptions(tx, o);
  }
  return o;
}

void DmarcStage::applyExemptions(const Connection& tx, Outcome& o) const {
  if (o.disposition == "none") return;
  auto& facts = o.judgement.facts;
  for (auto [list, type] : {std::pair{&trustedForwarders_, "trusted_forwarder"},
                            std::pair{&mailingLists_, "mailing_list"}}) {
    if (auto entry = list->match(tx.client)) {
      std::string why = "client " + tx.client.clientName + "[" + tx.client.clientAddress +
                        "] matches " + *entry + ": " + o.disposition + " not applied";
      facts.overrides.push_back({type, why});
      o.notes.push_back(std::string(type) + " " + why);
      o.disposition = "none";
      return;
    }
  }
  // The local policy may soften what the domain asks for.
  if (o.disposition == "reject" && onReject_ == PolicyAction::Quarantine) {
    facts.overrides.push_back({"local_policy", "policy_reject = quarantine"});
    o.disposition = "quarantine";
  }
  PolicyAction local = o.disposition == "reject" ? onReject_ : onQuarantine_;
  if (local == PolicyAction::Off) {
    facts.overrides.push_back({"local_policy", "policy_" + o.disposition + " = off"});
    o.disposition = "none";
  }
}

std::optional<Findings> DmarcStage::checkFromField(Connection& tx,
                                                   const std::vector<std::string>& domains,
                                                   size_t fromFields) const {
  if (fromFields == 1 && domains.size() == 1) return std::nullopt;  // the usual case, at once
  TemplateVars vars{{"from_domains", joined(domains)},
                    {"client_address", tx.client.clientAddress},
                    {"sender", tx.message.sender}};
  if (domains.empty()) {
    tx.message.authResults.push_back({"dmarc", "permerror", "no From domain", {}});
    std::string detail = fromFields == 0 ? "no From field" : "From names no domain";
    if (noFrom_.off()) return Findings(Decision::pass("dmarc.no_from", detail));
    return Findings(failCheck(noFrom_, "dmarc", vars, detail));
  }
  if (fromFields <= 1 && domains.size() <= 1) return std::nullopt;
  if (multipleFrom_.off()) return std::nullopt;
  std::string detail = std::to_string(fromFields) + " From field" + (fromFields == 1 ? "" : "s") +
                       " naming " + joined(domains);
  return Findings(failCheck(multipleFrom_, "dmarc", vars, detail));
}

Findings DmarcStage::onEom(Connection& tx) const {
  static const FromState kNoFrom;
  const FromState* from = tx.findMessageState<FromState>(this);
  if (!from) from = &kNoFrom;
  Findings findings;
  if (auto problem = checkFromField(tx, from->domains, from->fields)) {
    if (problem->refused() || from->domains.empty()) return *problem;
    findings.add(std::move(*problem));  // a warning: every domain is evaluated, the strictest wins
  }
  std::optional<Outcome> decisive;
  for (size_t i = 0; i < from->domains.size() && i < kMaxFromDomains; ++i) {
    Outcome o = evaluate(tx, from->domains[i], from->valid[i]);
    record(tx, o);
    if (!decisive || o.severity() > decisive->severity()) decisive = std::move(o);
  }
  findings.add(decide(tx, *decisive));
  DmarcFacts& facts = tx.message.dmarc.emplace(std::move(decisive->judgement.facts));
  if (!decisive->found()) {
    facts.headerFrom = decisive->fromDomain;
    facts.result = decisive->status == DmarcDiscovery::Status::TempError   ? "temperror"
                   : decisive->status == DmarcDiscovery::Status::PermError ? "permerror"
                                                                           : "none";
    collectAuthResults(facts, tx.message.authResults, tx.message.sender);
  }
  return findings;
}

// The dmarc= result of one From domain, and what was really applied to it (a warn or observe
// mode applies nothing: the report says so as a local_policy override).
void DmarcStage::record(Connection& tx, Outcome& o) const {
  if (!o.found()) {
    const char* result = o.status == DmarcDiscovery::Status::TempError   ? "temperror"
                         : o.status == DmarcDiscovery::Status::PermError ? "permerror"
                                                                         : "none";
    tx.message.authResults.push_back({"dmarc", result, o.problem, {{"header.from", o.fromDomain}}});
    return;
  }
  auto& facts = o.judgement.facts;
  std::string applied = o.disposition;
  PolicyAction local = applied == "reject" ? onReject_ : onQuarantine_;
  if (applied != "none" && (observe_ || local == PolicyAction::Warn)) {
    facts.overrides.push_back({"local_policy", observe_ ? "observe mode" : "warn mode"});
    applied = "none";
  }
  facts.disposition = applied;
  std::string comment = o.policyTag + " dis=" + applied;
  for (const auto& ov : facts.overrides) comment += " " + ov.type;
  tx.message.authResults.push_back(
      {"dmarc", facts.result, comment, {{"header.from", o.fromDomain}, {"policy.dmarc", applied}}});
}

std::string DmarcStage::detailOf(const Outcome& o) const {
  std::string d = o.fromDomain + ": ";
  if (!o.found()) return sanitize(d + (o.problem.empty() ? "no DMARC policy" : o.problem));
  const auto& f = o.judgement.facts;
  d.reserve(160);
  for (std::string_view part :
       {std::string_view(f.result), std::string_view(" ("), std::string_view(o.policyTag),
        std::string_view(" at _dmarc."), std::string_view(f.policyDomain),
        std::string_view(", disposition "), std::string_view(o.disposition),
        std::string_view("); "), std::string_view(o.judgement.evidence)})
    d += part;
  for (const auto& n : o.notes) d.append("; ").append(n);
  return sanitize(d);
}

Findings DmarcStage::decide(Connection& tx, const Outcome& o) const {
  const auto& f = o.judgement.facts;
  auto vars = [&] {  // only for a reply: most mail passes
    return TemplateVars{{"from_domain", o.fromDomain},
                        {"from_domains", o.fromDomain},
                        {"dmarc_policy", o.policyTag},
                        {"dmarc_policy_domain", f.policyDomain},
                        {"dmarc_evidence", o.judgement.evidence},
                        {"dmarc_problem", o.problem},
                        {"client_address", tx.client.clientAddress},
                        {"sender", tx.message.sender}};
  };
  std::string detail = detailOf(o);
  if (o.status == DmarcDiscovery::Status::TempError) {
    bool enforcing = onReject_ == PolicyAction::Reject || onReject_ == PolicyAction::Quarantine ||
                     onQuarantine_ == PolicyAction::Quarantine;
    if (onReject_ == PolicyAction::Off && onQuarantine_ == PolicyAction::Off)
      return Decision::pass("dmarc.temperror", detail);
    // A policy that could not be read may be p=reject: on_failure decides, never a 5xx.
    return Decision::dependencyTempfail(temperrorReply_.render(vars()), "dmarc.temperror", detail)
        .under(enforcing ? CheckMode::Enforce : CheckMode::Warn, "policy_reject");
  }
  if (o.disposition == "reject")
    return Decision::reject(rejectReply_.render(vars()), "dmarc.fail", detail)
        .under(onReject_ == PolicyAction::Warn ? CheckMode::Warn : CheckMode::Enforce,
               "policy_reject");
  if (o.disposition == "quarantine") return quarantine(tx, o);
  const char* result = o.found()                                       ? f.result.c_str()
                       : o.status == DmarcDiscovery::Status::PermError ? "permerror"
                                                                       : "none";
  return Decision::pass(std::string("dmarc.") + result, detail);
}

Findings DmarcStage::quarantine(Connection& tx, const Outcome& o) const {
  std::string detail = detailOf(o);
  // Softened from reject by policy_reject = quarantine: that setting enforces it.
  bool fromReject = o.judgement.requested == "reject" && onReject_ == PolicyAction::Quarantine;
  bool warn = !fromReject && onQuarantine_ == PolicyAction::Warn;
  if (!warn && !observe_ && quarantineByHeader_) {
    tx.message.addedHeaders.push_back(
        {quarantineHeader_, sanitize("dmarc: " + o.fromDomain + " " + o.policyTag + " failed")});
    return Decision::pass("dmarc.quarantine", detail + "; " + quarantineHeader_ + " added");
  }
  Decision d = Decision::pass("dmarc.quarantine", detail);
  d.action = Action::Quarantine;
  return std::move(d).under(warn ? CheckMode::Warn : CheckMode::Enforce,
                            fromReject ? "policy_reject" : "policy_quarantine");
}

}  // namespace mxguard::stages
