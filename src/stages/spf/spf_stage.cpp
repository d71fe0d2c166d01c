// spf_stage.cpp - evaluates at MAIL (the engine delivers a rejection at RCPT, so postmaster@
// stays reachable), records both identities' results, adds Received-SPF for the one that counts.
// Must not: evaluate the same HELO twice on one connection (it is cached in connection state).
#include "stages/spf/spf_stage.h"

#include <algorithm>

#include "stages/check_action.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"sender",      "client_address", "client_name", "helo_name",
                                  "spf_domain",  "spf_identity",   "spf_checked", "spf_explanation",
                                  "spf_problem", "spf_record",     "spf_result"};

struct ResultSpec {
  SpfResult result;
  const char* name;
  const char* action;  // default
  const char* reply;   // default
};

// RFC 7372: 5.7.23 SPF validation failed, 5.7.24 SPF validation error (4.7.24 temporary).
const ResultSpec kResults[] = {
    {SpfResult::Fail, "fail", "reject",
     "550 5.7.23 <${sender}>: Sender address rejected: SPF fail: ${spf_domain} does not "
     "designate ${client_address} as a permitted sender${spf_explanation?; the domain says: "
     "${spf_explanation}}"},
    {SpfResult::Softfail, "softfail", "accept",
     "550 5.7.23 <${sender}>: Sender address rejected: SPF softfail: ${spf_domain} does not "
     "designate ${client_address} as a permitted sender"},
    {SpfResult::Neutral, "neutral", "accept",
     "550 5.7.23 <${sender}>: Sender address rejected: SPF neutral: ${spf_domain} neither "
     "permits nor denies ${client_address}"},
    {SpfResult::None, "none", "accept",
     "550 5.7.23 <${sender}>: Sender address rejected: ${spf_domain} publishes no SPF record"},
    {SpfResult::Permerror, "permerror", "accept",
     "550 5.7.24 <${sender}>: Sender address rejected: SPF permerror: the SPF record of "
     "${spf_domain} is invalid (${spf_problem})"},
    {SpfResult::Temperror, "temperror", "tempfail",
     "451 4.7.24 <${sender}>: Sender address rejected: SPF temperror: DNS lookup for "
     "${spf_domain} failed (${spf_problem}); try again later"},
};

// RFC 7208 9.1 comment texts.
std::string receivedSpfComment(const SpfEvaluation& e, const std::string& ip) {
  const std::string who = "domain of " + e.checked;
  switch (e.result) {
    case SpfResult::Pass:
      return who + " designates " + ip + " as permitted sender";
    case SpfResult::Fail:
      return who + " does not designate " + ip + " as permitted sender";
    case SpfResult::Softfail:
      return "domain of transitioning " + e.checked + " does not designate " + ip +
             " as permitted sender";
    case SpfResult::Neutral:
      return ip + " is neither permitted nor denied by " + who;
    case SpfResult::None:
      return e.domain + " does not designate permitted sender hosts";
    case SpfResult::Temperror:
    case SpfResult::Permerror:
      return "error in processing during lookup of " + e.domain + ": " + e.problem;
  }
  return "";
}

std::string quoted(const std::string& v) {
  std::string q = "\"";
  for (char c : sanitize(v)) {
    if (c == '"' || c == '\\') q.push_back('\\');
    q.push_back(c);
  }
  return q + "\"";
}

std::string receivedSpf(const SpfEvaluation& e, const Connection& tx) {
  const auto& c = tx.client;
  std::string comment;
  for (char ch : sanitize(receivedSpfComment(e, c.clientAddress)))
    comment.push_back(ch == '(' || ch == ')' ? ' ' : ch);
  std::string v = std::string(toString(e.result)) + " (" + sanitize(c.ourHostname) + ": " +
                  comment + ")\n\tclient-ip=" + c.clientAddress +
                  "; envelope-from=" + quoted(tx.message.sender) + "; helo=" + quoted(c.helo) +
                  "; receiver=" + sanitize(c.ourHostname) + "; identity=" + e.identity + ";";
  return v;
}

}  // namespace

std::vector<config::OptionSpec> SpfStage::options() {
  std::vector<config::OptionSpec> s;
  s.push_back({"check_helo", config::OptionKind::Bool, "yes", false, 0, 0,
               "also check the HELO identity (RFC 7208 2.3); its fail counts like a MAIL FROM "
               "fail"});
  for (const auto& r : kResults) {
    s.push_back({r.name, config::OptionKind::String, r.action, false, 0, 0,
                 std::string("what an SPF ") + r.name + " does (accept | reject | tempfail)"});
    s.push_back({std::string("reply_") + r.name, config::OptionKind::String, r.reply, false, 0, 0,
                 std::string("reply when ") + r.name + " is rejected or deferred"});
  }
  return s;
}

StageSharedPtr SpfStage::create(const config::Section& section, const StageContext& context) {
  auto s = std::make_shared<SpfStage>();
  s->timeout_ = context.dnsTimeout;
  s->checkHelo_ = section.getBool("check_helo");
  for (const auto& r : kResults) {
    Rule rule;
    std::string action = section.getString(r.name);
    if (action == "accept")
      rule.action = ResultAction::Accept;
    else if (action == "reject")
      rule.action = ResultAction::Reject;
    else if (action == "tempfail")
      rule.action = ResultAction::Tempfail;
    else
      section.fail(r.name, "invalid value '" + action + "' (use accept, reject or tempfail)");
    if (r.result == SpfResult::Temperror && rule.action == ResultAction::Reject)
      section.fail(r.name, "a temperror cannot be rejected (use tempfail or accept)");
    std::string replyOption = std::string("reply_") + r.name;
    rule.reply = parseTemplate(section, replyOption, kVars);
    int code = rule.reply.code();
    if (rule.action == ResultAction::Reject && code < 500)
      section.fail(replyOption, std::string(r.name) + " = reject needs a 5xx reply, not " +
                                    std::to_string(code));
    if (rule.action == ResultAction::Tempfail || r.result == SpfResult::Temperror)
      requireTempfail(
          section, replyOption, rule.reply,
          std::string(r.name) + " can only be deferred with a 4xx reply, not {code}" +
              (r.result == SpfResult::Temperror ? " (a DNS failure is never a 5xx)" : ""));
    s->rules_[static_cast<size_t>(r.result)] = std::move(rule);
  }
  s->evaluator_ = std::make_shared<const SpfEvaluator>(context.resolver, context.ourHostname);
  return s;
}

namespace {
struct HeloCache : StageState {
  std::string helo;
  std::optional<SpfEvaluation> evaluation;
};
}  // namespace

const SpfEvaluation& SpfStage::heloEvaluation(Connection& tx, const IpAddress& ip,
                                              std::chrono::milliseconds timeout) const {
  auto& cache = tx.connectionState<HeloCache>(this);
  // A temperror is not kept: the next message (with its own DNS budget) tries again.
  if (!cache.evaluation || cache.helo != tx.client.helo ||
      cache.evaluation->result == SpfResult::Temperror) {
    cache.helo = tx.client.helo;
    cache.evaluation = evaluator_->checkHelo(ip, tx.client.helo, timeout);
  }
  return *cache.evaluation;
}

Findings SpfStage::onMail(Connection& tx) const {
  const auto& c = tx.client;
  if (!c.clientIp) return Decision::pass("spf.skip", "no client address");
  const std::string& sender = tx.message.sender;

  // The HELO identity: checked first (2.3), and for the null sender it is the identity (2.4).
  // One deadline for the stage; a slow HELO domain may use at most half of it.
  // The message's DNS budget may cut that deadline (a cut that runs out is named in the result).
  auto timeout = tx.dnsBudget.allow(timeout_);
  auto start = std::chrono::steady_clock::now();
  std::optional<SpfEvaluation> helo;
  if (checkHelo_ || sender.empty())
    helo = heloEvaluation(
        tx, *c.clientIp,
        std::max(sender.empty() ? timeout : timeout / 2, std::chrono::milliseconds(1)));
  std::optional<SpfEvaluation> mailfrom;
  if (!sender.empty()) {
    auto left = timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start);
    mailfrom = evaluator_->checkMailFrom(*c.clientIp, c.helo, sender,
                                         std::max(left, std::chrono::milliseconds(1)));
  }
  tx.dnsBudget.charge(std::chrono::steady_clock::now() - start);
  if (timeout < timeout_ && tx.dnsBudget.spent())
    for (auto* e : {helo ? &*helo : nullptr, mailfrom ? &*mailfrom : nullptr})
      if (e && e->result == SpfResult::Temperror)
        e->problem += " (" + tx.dnsBudget.spentError() + ")";

  if (helo && (sender.empty() || helo->result != SpfResult::None))
    tx.message.authResults.push_back(
        {"spf", toString(helo->result), helo->problem, {{"smtp.helo", c.helo}}});
  if (mailfrom)
    tx.message.authResults.push_back(
        {"spf", toString(mailfrom->result), mailfrom->problem, {{"smtp.mailfrom", sender}}});

  // What counts: a HELO fail (a conclusive answer, 2.3), else the MAIL FROM result.
  const SpfEvaluation& counted =
      helo && (!mailfrom || (helo->result == SpfResult::Fail &&
                             rule(SpfResult::Fail).action != ResultAction::Accept))
          ? *helo
          : *mailfrom;
  tx.message.addedHeaders.push_back({"Received-SPF", receivedSpf(counted, tx)});
  return decide(tx, counted);
}

std::optional<Decision> SpfStage::decide(Connection& tx, const SpfEvaluation& e) const {
  const auto& c = tx.client;
  std::string result = toString(e.result);
  std::string detail = e.identity + " " + e.checked + ": " + result;
  if (!e.record.empty()) detail += " (record \"" + e.record + "\")";
  if (!e.problem.empty() && e.result != SpfResult::Pass) detail += "; " + e.problem;
  if (!e.explanation.empty()) detail += "; explanation \"" + e.explanation + "\"";
  std::string reason = "spf." + result;
  if (e.result == SpfResult::Pass) return Decision::pass(reason, sanitize(detail));
  const Rule& r = rule(e.result);
  if (r.action == ResultAction::Accept) return Decision::pass(reason, sanitize(detail));

  TemplateVars vars{
      {"sender", tx.message.sender}, {"client_address", c.clientAddress},
      {"client_name", c.clientName}, {"helo_name", c.helo},
      {"spf_domain", e.domain},      {"spf_identity", e.identity == "helo" ? "HELO" : "MAIL FROM"},
      {"spf_checked", e.checked},    {"spf_explanation", e.explanation},
      {"spf_problem", e.problem},    {"spf_record", e.record},
      {"spf_result", result}};
  Reply reply = r.reply.render(vars);
  if (e.result == SpfResult::Temperror)  // a DNS failure: on_failure decides
    return Decision::dependencyTempfail(std::move(reply), reason, sanitize(detail));
  if (r.action == ResultAction::Tempfail)
    return Decision::tempfail(std::move(reply), reason, sanitize(detail));
  return Decision::reject(std::move(reply), reason, sanitize(detail));
}

}  // namespace mxguard::stages
