// engine_access.cpp - the Engine's access maps and recipient classes: which rule a client, HELO,
// sender or recipient matches, what it allows or skips, and the lane (Judging) each recipient
// is judged in, made at its first recipient from what connect, HELO and MAIL found.
// Must not: look anything up but the policy's tables, or run a stage: lanes judge kept findings.
#include <memory>

#include "base/strings.h"
#include "core/engine.h"

namespace mxguard {
namespace {

// What an access rule's reject or tempfail is judged as: a stage named "access" that is always
// enforced (a map entry is the admin's own word, never observed or skipped).
class AccessStage final : public Stage {
 public:
  std::string_view name() const override { return "access"; }
};

const StageEntry& accessEntry() {
  static const StageEntry entry = [] {
    StageEntry e;
    e.stage = std::make_shared<AccessStage>();
    return e;
  }();
  return entry;
}

std::string describe(const AccessRule& rule) {
  switch (rule.kind) {
    case AccessRule::Kind::Allow:
      return "allow";
    case AccessRule::Kind::Skip: {
      std::string out = "skip";
      for (const auto& s : rule.skip) out += " " + s;
      return out;
    }
    case AccessRule::Kind::Reject:
      return "reject";
    case AccessRule::Kind::Tempfail:
      return "tempfail";
  }
  return "?";
}

}  // namespace

const char* toString(AccessSubject s) {
  switch (s) {
    case AccessSubject::ClientAddress:
      return "client";
    case AccessSubject::ClientName:
      return "client_name";
    case AccessSubject::Helo:
      return "helo";
    case AccessSubject::Sender:
      return "sender";
    case AccessSubject::Recipient:
      return "recipient";
  }
  return "?";
}

// The first map of the subject with an entry for it wins, as the first matching restriction does
// in Postfix. Allow and skip are traced here; a refusal is traced where it is judged.
std::optional<AccessHit> Engine::consultAccess(AccessSubject subject, std::string_view value,
                                               Phase phase) {
  for (const auto& check : policy_->access) {
    if (check.subject != subject) continue;
    std::optional<AccessHit> hit;
    if (subject == AccessSubject::ClientAddress) {
      if (tx_.client.clientIp) hit = check.table->findAddress(*tx_.client.clientIp);
    } else {
      hit = check.table->find(value);
    }
    if (!hit) continue;
    const AccessRule& rule = *hit->rule;
    if (rule.kind == AccessRule::Kind::Allow || rule.kind == AccessRule::Kind::Skip)
      record({phase, "access", toString(subject),
              sanitize(hit->where) +
                  (subject == AccessSubject::Recipient ? " <" + sanitize(value) + ">" : ""),
              describe(rule)});
    return hit;
  }
  return std::nullopt;
}

// Client (connect), HELO and sender (MAIL) rules: an allow or skip holds for its scope (the
// connection, the HELO, the message); a refusal is judged like a stage's, so it is held to RCPT
// and every class judges it too.
Verdict Engine::applyAccess(Phase phase, std::initializer_list<AccessSubject> subjects) {
  if (policy_->access.empty() || skipsStages(phase)) return Verdict::pass(phase);
  for (AccessSubject subject : subjects) {
    std::string value;
    switch (subject) {
      case AccessSubject::ClientAddress:
        break;
      case AccessSubject::ClientName:
        if (tx_.client.clientName.empty() || tx_.client.clientName == "unknown") continue;
        value = tx_.client.clientName;
        break;
      case AccessSubject::Helo:
        value = tx_.client.helo;
        break;
      case AccessSubject::Sender:
        value = tx_.message.sender.empty() ? "<>" : tx_.message.sender;
        break;
      case AccessSubject::Recipient:
        continue;  // per recipient, in rcpt()
    }
    auto hit = consultAccess(subject, value, phase);
    if (!hit) continue;
    const AccessRule& rule = *hit->rule;
    bool& allowed = phase == Phase::Connect ? clientAllowed_
                    : phase == Phase::Helo  ? heloAllowed_
                                            : senderAllowed_;
    Judging& skips = phase == Phase::Connect ? clientSkips_
                     : phase == Phase::Helo  ? heloSkips_
                                             : senderSkips_;
    switch (rule.kind) {
      case AccessRule::Kind::Allow:
        allowed = true;
        break;
      case AccessRule::Kind::Skip:
        skips.skip.insert(rule.skip.begin(), rule.skip.end());
        break;
      case AccessRule::Kind::Reject:
      case AccessRule::Kind::Tempfail: {
        Findings findings = rule.kind == AccessRule::Kind::Reject
                                ? Decision::reject(*rule.reply, "access.reject", hit->where)
                                : Decision::tempfail(*rule.reply, "access.tempfail", hit->where);
        if (policy_->judgesPerRecipient) kept_.push_back({phase, &accessEntry(), findings});
        bool stop = false;
        return judge(accessEntry(), phase, findings, base_, &stop, true);
      }
    }
    return Verdict::pass(phase);
  }
  return Verdict::pass(phase);
}

const PolicyClass* Engine::classOf(std::string_view recipient, std::string* where) const {
  for (const auto& cls : policy_->classes)
    for (const auto& set : cls.recipients)
      if (auto w = set->match(recipient)) {
        *where = sanitize(*w);
        return &cls;
      }
  return nullptr;
}

Engine::Lane& Engine::laneFor(const PolicyClass* cls, const std::vector<std::string>& skip) {
  const Judging* judging = cls ? &cls->judging : nullptr;
  if (!judging && skip.empty()) return base_;
  for (auto& lane : classLanes_)
    if (lane.judging == judging && lane.skip == skip) return lane;
  Lane& lane = classLanes_.emplace_back();
  lane.judging = judging;
  lane.skip = skip;
  lane.skipJudging.skip.insert(skip.begin(), skip.end());
  lane.label = cls ? cls->judging.name : "access";
  if (cls && !skip.empty()) lane.label += "+access";
  judgeKept(lane);
  return lane;
}

// What connect, HELO and MAIL found, judged for a lane made at RCPT, with the rules runPhase
// applies: per phase, the first stage that decides ends it; once a rejection is held, only the
// counting stages are judged.
void Engine::judgeKept(Lane& lane) {
  std::optional<Phase> phase;
  bool stopped = false, whileRejected = false;
  for (const Kept& k : kept_) {
    if (k.phase != phase) {
      phase = k.phase;
      stopped = false;
      whileRejected = lane.pending.active && k.phase != Phase::Connect;
    }
    if (stopped || (whileRejected && !k.entry->runsWhileRejected)) continue;
    // A stage the lane skips is judged too: apply() traces its refusals as skipped.
    bool stop = false;
    Verdict v = judge(*k.entry, k.phase, k.findings, lane, &stop, false);
    if (stop || v.action != Action::Pass) stopped = true;
  }
}

}  // namespace mxguard
