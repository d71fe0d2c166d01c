// engine.cpp - the engine's rules, in the order Postfix applies them: whitelist, prefetch the
// phase's DNS, run the stages, then observe mode, on_failure, delayed reject, soft bounce.
// Must not: throw on the data plane or know any stage by name.
#include "core/engine.h"

#include <algorithm>
#include <array>
#include <ctime>

#include "base/counters.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/strings.h"
#include "core/incidents.h"

namespace mxguard {
namespace {

bool isPreRcpt(Phase p) {
  return p == Phase::Connect || p == Phase::Helo || p == Phase::Mail;
}

std::string stripBrackets(std::string_view a) {
  while (!a.empty() && (a.front() == ' ')) a.remove_prefix(1);
  if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
  return std::string(a);
}

// 421 closes the session (RFC 5321 3.8): nothing is gained by holding it to RCPT, and every
// command until then would cost the server work the limit is there to save.
bool closesSession(const Verdict& v) {
  return v.reply && v.reply->code() == 421;
}

size_t traceEntryBytes(const TraceEntry& t) {
  return t.stage.size() + t.outcome.size() + t.detail.size() + t.effect.size();
}

Reply fallbackReply() {
  // A stage said reject/tempfail without a reply: a bug, so never a 5xx.
  return *Reply::make(451, "4.3.0", "Temporary policy failure; try again later");
}

}  // namespace

Engine::Engine(PolicySharedPtr policy) : policy_(std::move(policy)) {
  tx_.dnsBudget.setLimit(policy_->engine.dnsBudget);
  tx_.setClock(*policy_->clock);
}

// Every trace entry is also a metric sample, under the same stage/outcome names as the logs,
// whether or not the trace has room for it (kMaxTraceBytes).
void Engine::record(TraceEntry t, bool count) {
  if (count) metrics::countStageOutcome(t.stage, t.outcome, t.effect);
  size_t bytes = traceEntryBytes(t);
  size_t limit = t.effect == "none" ? kMaxTraceBytes / 4 * 3 : kMaxTraceBytes;
  if (traceBytes_ + bytes > limit) {
    ++traceDropped_;
    return;
  }
  traceBytes_ += bytes;
  tx_.trace.push_back(std::move(t));
}

bool Engine::skipsStages(Phase phase) {
  const auto& c = tx_.client;
  const auto& e = policy_->engine;
  std::string why;
  if (clientAllowed_ || (heloAllowed_ && phase >= Phase::Helo) ||
      (senderAllowed_ && phase >= Phase::Mail))
    return true;  // traced by the access rule that allowed it
  if (e.whitelistAuthenticated && !c.authUser.empty()) {
    why = "authenticated as " + sanitize(c.authUser);
  } else if (c.clientIp) {
    for (const auto& cidr : e.whitelistClients)
      if (cidr.contains(*c.clientIp)) {
        why = "client " + c.clientIp->toString() + " in whitelist_clients " + cidr.toString();
        break;
      }
  }
  if (why.empty()) return false;
  if (!whitelistTraced_) {
    record({phase, "engine", "whitelisted", why, "skip all stages"});
    whitelistTraced_ = true;
  }
  return true;
}

bool Engine::isExempt(std::string_view recipient) const {
  auto at = recipient.rfind('@');
  std::string local =
      lower(recipient.substr(0, at == std::string_view::npos ? recipient.size() : at));
  const auto& ex = policy_->engine.exemptLocalParts;
  return std::find(ex.begin(), ex.end(), local) != ex.end();
}

void Engine::clearHeldFrom(Phase earliest) {
  if (base_.pending.active && base_.pending.phase >= earliest) base_.pending = Held{};
  if (base_.deferred.active && base_.deferred.phase >= earliest) base_.deferred = Held{};
  std::erase_if(kept_, [&](const Kept& k) { return k.phase >= earliest; });
  if (earliest <= Phase::Helo) {
    heloAllowed_ = false;
    heloSkips_ = Judging{};
  }
  // Class lanes last one transaction: the next is judged again from what is kept.
  if (earliest <= Phase::Mail) {
    classLanes_.clear();
    base_.hasRecipients = false;
    base_.quarantine.reset();
    senderAllowed_ = false;
    senderSkips_ = Judging{};
  }
}

// A would-be reply that is only logged: a check in warn mode or a stage in observe mode
// (Postfix's warn_if_reject). One log and trace shape for both.
void Engine::warn(const StageEntry& entry, const Decision& d, CheckMode mode,
                  const std::string& replyText, TraceEntry t, bool count) {
  std::string name(entry.stage->name());
  std::string why = mode == CheckMode::Warn
                        ? (d.check.empty() ? std::string("warn") : d.check + " = warn")
                        : std::string("observe mode");
  if (!t.lane.empty()) why += ", class " + t.lane;
  t.effect = std::string(toString(d.action)) + "_warning";
  if (count) countEvent(name + (mode == CheckMode::Warn ? ".warned" : ".observed"));
  logMessage(LogLevel::Warning, name + ": " + t.effect + " (" + why + "): would reply: " +
                                    sanitize(replyText) + " (" + d.reason + ")");
  record(std::move(t), count);
}

// The verdict a refusal becomes: its reply (a fallback when the stage gave none), softened when
// it must not be permanent, and the action that follows from the reply's class.
Verdict Engine::verdictOf(const Decision& d, const std::string& stage, Phase phase) const {
  Verdict v;
  v.action = d.action;
  v.reason = d.reason;
  v.stage = stage;
  v.phase = phase;
  if (d.action == Action::Reject || d.action == Action::Tempfail) {
    v.reply = d.reply ? *d.reply : fallbackReply();
    // Temporary failure is never a 5xx, whatever the stage wrote.
    if (d.action == Action::Tempfail && v.reply->isPermanent()) v.reply = v.reply->softened();
    if (policy_->engine.softBounce && v.reply->isPermanent()) v.reply = v.reply->softened();
    v.action = v.reply->isPermanent() ? Action::Reject : Action::Tempfail;
  }
  return v;
}

void Engine::acceptOnFailure(const Decision& d, TraceEntry t, bool count) {
  const std::string name = t.stage;
  if (count) {
    countEvent(name + ".dependency_failure");
    metrics::countDependencyFailure(name);
  }
  t.effect = "accepted_on_failure";
  record(std::move(t), count);
  // One incident per outage: an outage must not write a warning per message.
  policy_->incidents->noteFailure(name, name + ": " + d.reason + " (" + sanitize(d.detail) +
                                            "): on_failure = accept, continuing");
}

void Engine::deferOnFailure(const Decision& d, const Verdict& v, TraceEntry t, Lane& lane,
                            bool count) {
  const std::string name = t.stage;
  Phase phase = t.phase;
  if (count) {
    countEvent(name + ".dependency_failure");
    metrics::countDependencyFailure(name);
  }
  policy_->incidents->noteFailure(name, name + ": " + d.reason + " (" + sanitize(d.detail) +
                                            "): on_failure = tempfail, deferring");
  // defer_if_permit: keep the first reason, let a later definite rejection win.
  t.effect = "defer_if_permit";
  record(std::move(t), count);
  Held& held = phase == Phase::Rcpt ? rcptDeferral_ : lane.deferred;
  if (!held.active) held = Held{true, phase, v, d.check};
}

CheckMode Engine::checkModeIn(const Lane& lane, std::string_view stage, const Decision& d) const {
  CheckMode policy = policy_->judging.checkMode(stage, d.check, d.mode);
  return lane.judging ? lane.judging->checkMode(stage, d.check, policy) : policy;
}

bool Engine::skipsIn(const Lane& lane, std::string_view stage, std::string_view check) const {
  return lane.skipJudging.skipsStage("*") || (lane.judging && lane.judging->skips(stage, check)) ||
         lane.skipJudging.skips(stage, check) || clientSkips_.skips(stage, check) ||
         heloSkips_.skips(stage, check) || senderSkips_.skips(stage, check);
}

bool Engine::mayBeRelaxed(const Held& held) const {
  if (!held.active) return false;
  const auto& r = policy_->relaxable;
  return r.count(held.verdict.stage) > 0 ||
         (!held.check.empty() && r.count(held.verdict.stage + "." + held.check) > 0);
}

bool Engine::scopedSkip(std::string_view stage) const {
  return clientSkips_.skipsStage(stage) || heloSkips_.skipsStage(stage) ||
         senderSkips_.skipsStage(stage);
}

Verdict Engine::apply(const StageEntry& entry, Phase phase, const Decision& d, bool* stop,
                      Lane& lane, bool count) {
  std::string name(entry.stage->name());
  // Stages skip their off checks (and their lookups); one that reports one anyway is ignored.
  CheckMode mode = checkModeIn(lane, name, d);
  if (mode == CheckMode::Off) return Verdict::pass(phase);
  std::string outcome = d.reason;
  if (outcome.rfind(name + ".", 0) == 0) outcome = outcome.substr(name.size() + 1);
  TraceEntry t{phase, name, outcome, d.detail, "none", lane.label};
  if (d.action != Action::Pass && skipsIn(lane, name, d.check)) {
    // An access rule or the recipient's class skips this stage or check: traced, not judged.
    t.effect = "skipped";
    record(std::move(t), count);
    return Verdict::pass(phase);
  }
  // A decision made without the dependency failing ends that stage's incident ("skip" used none).
  if (!d.dependencyFailure && outcome != "skip") policy_->incidents->noteSuccess(name);

  if (d.action == Action::Pass) {
    record(std::move(t), count);
    return Verdict::pass(phase);
  }

  Verdict v = verdictOf(d, name, phase);
  std::string replyText = trimLineEnd(v.reply ? v.reply->toSmtp() : toString(v.action));
  StageMode stageMode = lane.judging ? lane.judging->stageMode(name, entry.mode) : entry.mode;
  FailureMode onFailure =
      lane.judging ? lane.judging->failureMode(name, entry.onFailure) : entry.onFailure;

  // on_failure = accept first: observe mode must not report "would refuse" for a failure the
  // enforcing policy would accept anyway.
  if (d.dependencyFailure && onFailure == FailureMode::Accept) {
    acceptOnFailure(d, std::move(t), count);
    return Verdict::pass(phase);
  }

  // A check that cannot reject cannot defer either: warn and observe only log.
  if (mode == CheckMode::Warn || stageMode == StageMode::Observe) {
    if (d.dependencyFailure && count) metrics::countDependencyFailure(name);
    warn(entry, d, mode, replyText, std::move(t), count);
    return Verdict::pass(phase);
  }

  if (d.dependencyFailure) {
    deferOnFailure(d, v, std::move(t), lane, count);
    return Verdict::pass(phase);
  }

  if (d.action == Action::Quarantine) {
    // libmilter can quarantine only at end of message: kept until then.
    t.effect = "quarantine_at_end_of_message";
    record(std::move(t), count);
    if (!lane.quarantine) lane.quarantine = v;
    return Verdict::pass(phase);
  }

  if ((d.action == Action::Reject || d.action == Action::Tempfail) && isPreRcpt(phase) &&
      ((policy_->engine.delayReject && !closesSession(v)) || phase == Phase::Connect ||
       &lane != &base_)) {
    // Postfix smtpd_delay_reject: sent at RCPT, so the log has sender and recipients and
    // postmaster@/abuse@ stay reachable. A connect decision without delay goes out at the
    // client's next command: libmilter cannot reply at connect time. A class's lane judges at
    // RCPT what connect, HELO and MAIL found: its rejections are the recipient's.
    t.effect = "delayed";
    record(std::move(t), count);
    if (!lane.pending.active) lane.pending = Held{true, phase, v, d.check};
    *stop = true;
    return Verdict::pass(phase);
  }

  t.effect = toString(v.action);
  record(std::move(t), count);
  *stop = true;
  return v;
}

Verdict Engine::judge(const StageEntry& entry, Phase phase, const Findings& findings, Lane& lane,
                      bool* stop, bool count) {
  for (const Decision& d : findings.items()) {
    Verdict v = apply(entry, phase, d, stop, lane, count);
    if (*stop || v.action != Action::Pass) return v;
  }
  return Verdict::pass(phase);
}

namespace {

// The stricter of two verdicts of one phase: a 5xx over a 4xx over nothing; the first of equals.
const Verdict& stricter(const Verdict& a, const Verdict& b) {
  auto rank = [](const Verdict& v) {
    return v.action == Action::Reject ? 2 : v.action == Action::Tempfail ? 1 : 0;
  };
  return rank(b) > rank(a) ? b : a;
}

}  // namespace

// Before RCPT the policy's lane judges (a class's lane judges it again at its first recipient);
// at RCPT the recipient's; after it, every lane with an accepted recipient: a message to two
// classes is refused if either class refuses it (the strictest wins, as one message cannot be
// both refused and accepted at end of data).
const std::vector<Engine::Lane*>& Engine::lanesOf(Phase phase, Lane* only) {
  // Reused: the header phase runs once per field, and most messages have the policy's lane only.
  std::vector<Lane*>& lanes = phaseLanes_;
  lanes.clear();
  if (only) {
    lanes.push_back(only);
    return lanes;
  }
  if (!isPreRcpt(phase)) {
    if (base_.hasRecipients) lanes.push_back(&base_);
    for (auto& lane : classLanes_)
      if (lane.hasRecipients) lanes.push_back(&lane);
  }
  if (lanes.empty()) lanes.push_back(&base_);
  return lanes;
}

template <class Hook>
Verdict Engine::runPhase(Phase phase, Hook&& hook, Stages which, Lane* only) {
  metrics::Timer timer(phase);
  if (skipsStages(phase)) return Verdict::pass(phase);
  tx_.rejectionHeld = which == Stages::WhileRejected;
  const std::vector<Lane*>& lanes = lanesOf(phase, only);
  // Every stage runs before RCPT when classes judge again what it found (kept_); otherwise
  // a stage runs only for a lane that judges it.
  bool keep = policy_->judgesPerRecipient && isPreRcpt(phase);
  auto judgedBy = [&](const StageEntry& e, const Lane& lane) {
    return (which == Stages::All || e.runsWhileRejected) && !lane.skipJudging.skipsStage("*") &&
           !(lane.judging && lane.judging->skipsStage(e.stage->name())) &&
           !lane.skipJudging.skipsStage(e.stage->name());
  };
  // Kept for the classes: a stage runs after the policy's rejection only when some class may
  // not follow it (it skips or softens the stage or check that rejected): a blocklisted client
  // must not cost HELO lookups or callout probes that every class would ignore.
  auto runs = [&](const StageEntry& e) {
    if (!e.phases.contains(phase) || scopedSkip(e.stage->name())) return false;
    if (keep) return which == Stages::All || e.runsWhileRejected || mayBeRelaxed(base_.pending);
    return std::any_of(lanes.begin(), lanes.end(), [&](Lane* l) { return judgedBy(e, *l); });
  };
  // Every stage's queries for this phase go out together, under one deadline.
  std::vector<dns::Query> queries;
  std::chrono::milliseconds deadline{0};
  for (const auto& entry : policy_->stages) {
    if (!runs(entry)) continue;
    auto qs = entry.stage->prefetch(phase, tx_);
    if (qs.empty()) continue;
    queries.insert(queries.end(), qs.begin(), qs.end());
    deadline = std::max(deadline, entry.dnsTimeout);
  }
  bool connectionPhase = phase == Phase::Connect || phase == Phase::Helo;
  tx_.dnsAnswers.beginRound(connectionPhase ? DnsAnswers::Scope::Connection
                                            : DnsAnswers::Scope::Message);
  if (!queries.empty() && policy_->resolver)
    cachedLookupAll(tx_, *policy_->resolver, queries, deadline);

  Verdict result = Verdict::pass(phase);
  std::vector<char>& stopped = phaseStopped_;
  stopped.assign(lanes.size(), 0);
  auto allStopped = [&] {
    return std::all_of(stopped.begin(), stopped.end(), [](char c) { return c; });
  };
  for (const auto& entry : policy_->stages) {
    if (!runs(entry)) continue;
    if (allStopped() && !(keep && mayBeRelaxed(base_.pending))) break;
    Findings findings = hook(*entry.stage);
    for (size_t i = 0; i < lanes.size(); ++i) {
      if (stopped[i] || !judgedBy(entry, *lanes[i])) continue;
      bool stop = false;
      Verdict v = judge(entry, phase, findings, *lanes[i], &stop, i == 0);
      if (stop || v.action != Action::Pass) stopped[i] = 1;
      result = stricter(result, v);
    }
    if (keep) kept_.push_back({phase, &entry, std::move(findings)});
  }
  // A failed lookup is the answer of this round only: the next phase or message asks again.
  tx_.dnsAnswers.endRound();
  return result;
}

void Engine::startMessageIfNeeded() {
  if (messageOpen_) return;
  tx_.resetMessage();
  messageEnded_.reset();
  headerEdits_.clear();
  if (anyTransaction_) tx_.dnsBudget.restart();  // the first one also paid for connect/HELO
  authResultsSeen_ = 0;
  forgedAuthResults_ = 0;
  // The trace of a new transaction keeps the connection's connect/HELO outcomes only.
  std::erase_if(tx_.trace, [](const TraceEntry& t) { return t.phase >= Phase::Mail; });
  traceBytes_ = 0;
  for (const auto& t : tx_.trace) traceBytes_ += traceEntryBytes(t);
  traceDropped_ = 0;
  // Authentication is judged per MAIL: its "whitelisted" entry goes with the message.
  whitelistTraced_ = std::any_of(tx_.trace.begin(), tx_.trace.end(),
                                 [](const TraceEntry& t) { return t.outcome == "whitelisted"; });
  rejectedRcpts_.clear();
  attemptedRcpts_.clear();
  acceptedRcpts_ = 0;
  refusedRcpts_ = 0;
  finalReply_.clear();
  finalReason_.clear();
  messageOpen_ = true;
  anyTransaction_ = true;
}

Verdict Engine::connect() {
  // A refusal is held in the lane like any connect decision.
  applyAccess(Phase::Connect, {AccessSubject::ClientAddress, AccessSubject::ClientName});
  Verdict v = runPhase(Phase::Connect, [&](const Stage& s) { return s.onConnect(tx_); });
  return v.isRejection() ? Verdict::pass(Phase::Connect) : v;  // held in base_.pending instead
}

Verdict Engine::helo(std::string_view name) {
  if (tx_.client.heloSeen) tx_.counters.previousHelo = tx_.client.helo;
  ++tx_.counters.heloCommands;
  tx_.client.helo = std::string(name);
  tx_.client.heloSeen = true;
  clearHeldFrom(Phase::Helo);  // a new HELO is judged afresh
  Held& pending = base_.pending;
  if (pending.active && (!policy_->engine.delayReject || closesSession(pending.verdict)))
    return pending.verdict;  // from connect
  if (!pending.active) {
    Verdict access = applyAccess(Phase::Helo, {AccessSubject::Helo});
    if (access.isRejection()) return noteClosing(access);
  }
  auto hook = [&](const Stage& s) { return s.onHelo(tx_); };
  return noteClosing(pending.active ? runPhase(Phase::Helo, hook, Stages::WhileRejected)
                                    : runPhase(Phase::Helo, hook));
}

Verdict Engine::mail(std::string_view sender) {
  if (messageOpen_) finishTransaction("abort");
  startMessageIfNeeded();
  tx_.message.senderSeen = true;
  tx_.message.sender = stripBrackets(sender);
  ++tx_.counters.messages;
  Held& pending = base_.pending;
  if (pending.active && (!policy_->engine.delayReject || closesSession(pending.verdict)))
    return pending.verdict;
  dropHeldOnAuthentication();
  if (!pending.active) {
    Verdict access = applyAccess(Phase::Mail, {AccessSubject::Sender});
    if (access.isRejection()) return noteClosing(access);
  }
  auto hook = [&](const Stage& s) { return s.onMail(tx_); };
  if (!pending.active) return noteClosing(runPhase(Phase::Mail, hook));
  // Rejected already (held to RCPT): the counting stages still run, and a 421 closes now.
  Verdict v = runPhase(Phase::Mail, hook, Stages::WhileRejected);
  return closesSession(v) ? noteClosing(v) : Verdict::pass(Phase::Mail);
}

// Postfix's permit_sasl_authenticated ahead of the client restrictions: a client that
// authenticated ({auth_authen} arrives with MAIL) is not refused for what its address or HELO
// looked like, so verdicts held from connect and HELO are dropped (a 421 has closed already).
void Engine::dropHeldOnAuthentication() {
  const auto& c = tx_.client;
  if (!policy_->engine.whitelistAuthenticated || c.authUser.empty()) return;
  kept_.clear();  // no class judges it again either
  if (!base_.pending.active && !base_.deferred.active) return;
  const Held& held = base_.pending.active ? base_.pending : base_.deferred;
  record({Phase::Mail, "engine", "authenticated",
          "sasl_username=" + sanitize(c.authUser) + " drops held " + held.verdict.reason,
          "drop_held"});
  base_.pending = Held{};
  base_.deferred = Held{};
}

// A 421 ends the session: the summary line says why even though no RCPT was refused.
Verdict Engine::noteClosing(Verdict v) {
  if (closesSession(v)) {
    finalReply_ = v.reply->text();
    finalReason_ = v.reason;
  }
  return v;
}

Verdict Engine::rcpt(std::string_view recipient) {
  startMessageIfNeeded();
  std::string rcpt = stripBrackets(recipient);
  if (attemptedRcpts_.size() < kMaxKeptRecipients) attemptedRcpts_.push_back(rcpt);
  if (isExempt(rcpt)) {
    record({Phase::Rcpt, "engine", "exempt", "<" + sanitize(rcpt) + ">",
            base_.pending.active || base_.deferred.active ? "accept despite earlier rejection"
                                                          : "none"});
    keepRecipient(rcpt, base_);
    return Verdict::pass(Phase::Rcpt);
  }
  if (skipsStages(Phase::Rcpt)) return rcptInLane(rcpt, base_);
  // The recipient's access rule, then its class: together they make its lane.
  std::vector<std::string> skip;
  if (auto hit = consultAccess(AccessSubject::Recipient, rcpt, Phase::Rcpt)) {
    const AccessRule& rule = *hit->rule;
    if (rule.kind == AccessRule::Kind::Reject || rule.kind == AccessRule::Kind::Tempfail) {
      Decision d = rule.kind == AccessRule::Kind::Reject
                       ? Decision::reject(*rule.reply, "access.reject", hit->where)
                       : Decision::tempfail(*rule.reply, "access.tempfail", hit->where);
      Verdict v = verdictOf(d, "access", Phase::Rcpt);
      record({Phase::Rcpt, "access", d.reason.substr(7),
              sanitize(hit->where) + " <" + sanitize(rcpt) + ">", toString(v.action)});
      return refuseRecipient(rcpt, v);
    }
    skip = rule.kind == AccessRule::Kind::Allow ? std::vector<std::string>{"*"} : rule.skip;
  }
  std::string where;
  const PolicyClass* cls = classOf(rcpt, &where);
  if (cls)
    record({Phase::Rcpt, "engine", "class", "<" + sanitize(rcpt) + "> " + where,
            "judged by class " + cls->judging.name});
  return rcptInLane(rcpt, laneFor(cls, skip));
}

// A refused recipient: counted, kept (bounded) for the summary line.
Verdict Engine::refuseRecipient(const std::string& rcpt, const Verdict& v) {
  ++tx_.counters.rejectedRecipients;
  ++refusedRcpts_;
  // Bounded like the attempted ones; the summary line counts the rest.
  if (rejectedRcpts_.size() < kMaxKeptRecipients)
    rejectedRcpts_.push_back("<" + sanitize(rcpt) + "> " + std::to_string(v.reply->code()) + " " +
                             v.reply->enhanced());
  if (finalReply_.empty()) {
    finalReply_ = v.reply->text();
    finalReason_ = v.reason;
  }
  return noteClosing(v);
}

Verdict Engine::rcptInLane(const std::string& rcpt, Lane& lane) {
  auto hook = [&](const Stage& s) { return s.onRcpt(tx_, rcpt); };
  rcptDeferral_ = Held{};  // defer_if_permit of a RCPT is that recipient's alone
  if (lane.pending.active) {
    // The counting stages (behaviour, ratelimit) still run: a client rejected at HELO must not
    // be able to harvest addresses or RSET without limit. Their 421 wins.
    Verdict v = runPhase(Phase::Rcpt, hook, Stages::WhileRejected, &lane);
    return refuseRecipient(rcpt, v.isRejection() && closesSession(v) ? v : lane.pending.verdict);
  }
  Verdict v = runPhase(Phase::Rcpt, hook, Stages::All, &lane);
  if (v.isRejection()) return refuseRecipient(rcpt, v);
  if (lane.deferred.active) return refuseRecipient(rcpt, lane.deferred.verdict);
  if (rcptDeferral_.active) return refuseRecipient(rcpt, rcptDeferral_.verdict);
  keepRecipient(rcpt, lane);
  return v;
}

void Engine::keepRecipient(std::string rcpt, Lane& lane) {
  ++acceptedRcpts_;
  lane.hasRecipients = true;
  // Bounded like the header fields: 100,000 RCPTs must not grow the message without limit.
  if (tx_.message.recipients.size() < kMaxKeptRecipients)
    tx_.message.recipients.push_back(std::move(rcpt));
}

std::string Engine::authservId() const {
  const auto& id = policy_->engine.authservId;
  return id.empty() ? tx_.client.ourHostname : id;
}

// RFC 8601 section 5: an Authentication-Results field that already carries our authserv-id was
// not written by us for this message; it is deleted at end of message. Whitelisted clients (our
// own relays) may legitimately have written one, so theirs stay.
void Engine::noteAuthenticationResults(std::string_view value) {
  int index = ++authResultsSeen_;
  if (!policy_->engine.addAuthenticationResults || skipsStages(Phase::Header)) return;
  auto id = authservIdOf(value);
  if (!id || !sameAuthservId(*id, authservId())) return;
  // Beyond the cap they are counted only: 130,000 of them must become neither 130,000
  // deletions for the MTA nor a trace entry each; refuseForgedFields() refuses the message.
  if (++forgedAuthResults_ > policy_->engine.maxForgedAuthenticationResults) return;
  tx_.message.removedHeaders.push_back({"Authentication-Results", index});
  record({Phase::Header, "engine", "forged_authentication_results",
          "field " + std::to_string(index) + " claims authserv-id " + sanitize(*id), "remove"});
}

// More forgeries of our authserv-id than we remove are no accident (a loop through our own MX
// adds one per pass): the message is refused whole, at end of headers, with the count.
std::optional<Verdict> Engine::refuseForgedFields() {
  size_t max = policy_->engine.maxForgedAuthenticationResults;
  if (forgedAuthResults_ <= max) return std::nullopt;
  std::string count = std::to_string(forgedAuthResults_);
  std::string text = "Message rejected: " + count +
                     " Authentication-Results header fields claim this server's authserv-id " +
                     authservId() + " (at most " + std::to_string(max) +
                     (max == 1 ? " is" : " are") + " removed); it is forged";
  std::string detail = count + " fields claim authserv-id " + sanitize(authservId()) +
                       ", at most " + std::to_string(max) + " removed";
  Decision d = Decision::reject(*Reply::make(550, "5.7.1", text),
                                "engine.too_many_forged_authentication_results", detail);
  Verdict v = verdictOf(d, "engine", Phase::Eoh);
  record(
      {Phase::Eoh, "engine", "too_many_forged_authentication_results", detail, toString(v.action)});
  return v;
}

void Engine::addAuthenticationResults() {
  if (!policy_->engine.addAuthenticationResults) return;
  // Connection-scope results (iprev) first, then the message's (spf, dkim, dmarc).
  std::vector<AuthResult> all = tx_.client.authResults;
  all.insert(all.end(), tx_.message.authResults.begin(), tx_.message.authResults.end());
  if (all.empty()) return;
  tx_.message.addedHeaders.push_back(
      {"Authentication-Results", formatAuthenticationResults(authservId(), all)});
}

Verdict Engine::header(std::string_view name, std::string_view value, std::string_view leading) {
  if (messageEnded_) return *messageEnded_;
  ++tx_.message.headerCount;
  if (equalsIgnoreCase(name, "authentication-results")) noteAuthenticationResults(value);
  Header h{std::string(name), std::string(value), std::string(leading)};
  Verdict v = runPhase(Phase::Header, [&](const Stage& s) { return s.onHeader(tx_, h); });
  // Bounded so a message with a million headers cannot exhaust memory.
  if (tx_.message.headers.size() < kMaxKeptHeaders) tx_.message.headers.push_back(std::move(h));
  return endMessageIfDecided(v);
}

Verdict Engine::endOfHeaders() {
  if (messageEnded_) return *messageEnded_;
  if (auto refused = refuseForgedFields()) return endMessageIfDecided(*refused);
  return endMessageIfDecided(runPhase(Phase::Eoh, [&](const Stage& s) { return s.onEoh(tx_); }));
}

Verdict Engine::body(std::string_view chunk) {
  if (messageEnded_) return *messageEnded_;
  tx_.message.bodyBytes += chunk.size();
  return endMessageIfDecided(
      runPhase(Phase::Body, [&](const Stage& s) { return s.onBody(tx_, chunk); }));
}

// A rejection during DATA ends the transaction (the MTA sends the reply after the message):
// log it now, with its reply, instead of as a disconnect later.
Verdict Engine::endMessageIfDecided(Verdict v) {
  if (!messageOpen_ || !v.isRejection()) return v;
  messageEnded_ = v;  // every later step of this message gives it again
  if (v.reply) {
    finalReply_ = v.reply->text();
    finalReason_ = v.reason;
  }
  finishTransaction(toString(v.action));
  return v;
}

Verdict Engine::endOfMessage() {
  // Ended by a header or body verdict, or by an end of message already: logged, and nothing runs
  // again (a second end of message without a new MAIL, which no MTA sends, would otherwise run
  // every end-of-message stage over the same message, growing its results each time), and no
  // header edit is asked twice.
  if (messageEnded_) {
    headerEdits_.clear();
    return *messageEnded_;
  }
  // A front door that gives no end of headers (none does) still cannot have them all deleted.
  if (auto refused = refuseForgedFields()) return endMessageIfDecided(*refused);
  Verdict v = runPhase(Phase::Eom, [&](const Stage& s) { return s.onEom(tx_); });
  // Then what a lane kept for the end: a deferral of the data phases, a quarantine.
  const std::vector<Lane*>& lanes = lanesOf(Phase::Eom);
  for (Lane* lane : lanes)
    if (!v.isRejection() && lane->deferred.active && lane->deferred.phase >= Phase::Header)
      v = lane->deferred.verdict;
  for (Lane* lane : lanes)
    if (!v.isRejection() && v.action != Action::Quarantine && lane->quarantine)
      v = *lane->quarantine;
  if (!v.isRejection()) {
    addAuthenticationResults();
    prepareHeaderEdits();
  }
  if (v.reply) {
    finalReply_ = v.reply->text();
    finalReason_ = v.reason;
  }
  finishTransaction(v.action == Action::Pass ? "accept" : toString(v.action));
  messageEnded_ = v;
  return v;
}

void Engine::prepareHeaderEdits() {
  auto removed = tx_.message.removedHeaders;
  std::sort(removed.begin(), removed.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });
  size_t asked = removed.size() + tx_.message.addedHeaders.size();
  for (auto& [name, index] : removed) {
    if (headerEdits_.size() == kMaxHeaderEdits) break;
    headerEdits_.push_back({HeaderEdit::Kind::Delete, name, index, {}});
  }
  for (const auto& h : tx_.message.addedHeaders) {
    if (headerEdits_.size() == kMaxHeaderEdits) break;
    headerEdits_.push_back({HeaderEdit::Kind::Insert, h.name, 0, h.value});
  }
  // Only a stage gone wrong asks for more (forgeries stop at their own cap): say so.
  if (asked > headerEdits_.size())
    logMessage(LogLevel::Warning, "engine: " + std::to_string(asked - headerEdits_.size()) +
                                      " header edits not made (at most " +
                                      std::to_string(kMaxHeaderEdits) + " per message)");
}

void Engine::abort() {
  ++tx_.counters.abortedTransactions;
  for (const auto& entry : policy_->stages) entry.stage->onAbort(tx_);
  if (messageOpen_) finishTransaction(rejectedRcpts_.empty() ? "abort" : "reject");
  clearHeldFrom(Phase::Mail);
}

void Engine::close() {
  for (const auto& entry : policy_->stages) entry.stage->onClose(tx_);
  if (messageOpen_) {
    finishTransaction(rejectedRcpts_.empty() ? "disconnect" : "reject");
  } else if (!anyTransaction_) {
    finalAction_ = "disconnect";
    metrics::countVerdict(finalAction_);
    logMessage(LogLevel::Info, summaryLine());
  }
}

void Engine::finishTransaction(const char* action) {
  finalAction_ = action;
  // A tempfail of every recipient is a deferral, not a rejection.
  if (finalAction_ == "reject" && !rejectedRcpts_.empty() && tx_.message.recipients.empty()) {
    bool allTemp = std::all_of(rejectedRcpts_.begin(), rejectedRcpts_.end(), [](const auto& r) {
      auto sp = r.rfind(' ');
      return sp != std::string::npos && r[sp + 1] == '4';
    });
    if (allTemp) finalAction_ = "tempfail";
  }
  metrics::countVerdict(finalAction_);
  logMessage(LogLevel::Info, summaryLine());
  recordTransaction();
  messageOpen_ = false;
  clearHeldFrom(Phase::Mail);
}

void Engine::recordTransaction() const {
  if (!policy_->recorder || !tx_.message.senderSeen) return;
  MessageRecord r;
  char when[32];
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &utc);
  r.time = when;
  const auto& c = tx_.client;
  r.queueId = tx_.message.queueId;
  r.clientAddress = c.clientAddress;
  r.clientName = c.clientName;
  r.helo = c.helo;
  r.heloSeen = c.heloSeen;
  r.authUser = c.authUser;
  r.sender = tx_.message.sender;
  r.recipients = attemptedRcpts_;
  if (policy_->recorder->wantsHeaders()) r.headers = tx_.message.headers;
  r.action = finalAction_;
  r.reason = finalReason_;
  r.reply = finalReply_;
  r.dmarc = tx_.message.dmarc;
  policy_->recorder->record(r);
}

}  // namespace mxguard
