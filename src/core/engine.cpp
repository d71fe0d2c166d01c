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

// An outside value in the summary line: sanitised and, past `max` bytes, cut with "...".
std::string clip(std::string_view s, size_t max) {
  return s.size() > max ? sanitize(s.substr(0, max)) + "..." : sanitize(s);
}

// One list of the summary line (to=, rejected=, stages=): its items as kept, how many there were
// (kept or not), and what separates them.
struct LogList {
  std::vector<std::string> items;
  size_t total = 0;
  std::string_view sep;
  bool keepLast = false;  // the stages list: the decision is its last entry
  size_t bytes() const {
    size_t n = items.empty() ? 0 : sep.size() * (items.size() - 1);
    for (const auto& i : items) n += i.size();
    return n;
  }
};

// Room the "... (N more)" marker may take beyond a list's budget.
constexpr size_t kMarkerBytes = 48;

// The list in `budget` bytes: as many first items as fit (and with keepLast, as many last ones
// in the other half), and "... (N more)" for the rest.
std::string fitList(const LogList& l, size_t budget) {
  auto join = [&](size_t from, size_t to) {
    std::string out;
    for (size_t i = from; i < to; ++i) out += (i > from ? std::string(l.sep) : "") + l.items[i];
    return out;
  };
  if (l.total == l.items.size() && l.bytes() <= budget) return join(0, l.items.size());
  size_t headBudget = l.keepLast ? budget / 2 : budget;
  size_t head = 0, used = 0;
  for (; head < l.items.size(); ++head) {
    size_t need = l.items[head].size() + (head ? l.sep.size() : 0);
    if (used + need > headBudget) break;
    used += need;
  }
  size_t tail = l.items.size();  // the first of the last items shown
  while (l.keepLast && tail > head && used + l.sep.size() + l.items[tail - 1].size() <= budget) {
    used += l.sep.size() + l.items[tail - 1].size();
    --tail;
  }
  size_t shown = head + (l.items.size() - tail);
  std::string out = join(0, head) + (head ? std::string(l.sep) : "") + "... (" +
                    std::to_string(l.total - shown) + " more)";
  if (tail < l.items.size()) out += std::string(l.sep) + join(tail, l.items.size());
  return out;
}

// Shares `room` among lists needing `need` bytes each: a short list gets all it needs, and
// what it leaves goes to the longer ones.
std::array<size_t, 3> shareRoom(const std::array<size_t, 3>& need, size_t room) {
  std::array<size_t, 3> order{0, 1, 2}, out{};
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return need[a] < need[b]; });
  size_t left = order.size();
  for (size_t k : order) {
    out[k] = std::min(need[k], room / left--);
    room -= out[k];
  }
  return out;
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
void Engine::record(TraceEntry t) {
  metrics::countStageOutcome(t.stage, t.outcome, t.effect);
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
  if (pending_.active && pending_.phase >= earliest) pending_ = Held{};
  if (deferred_.active && deferred_.phase >= earliest) deferred_ = Held{};
}

// A would-be reply that is only logged: a check in warn mode or a stage in observe mode
// (Postfix's warn_if_reject). One log and trace shape for both.
void Engine::warn(const StageEntry& entry, const Decision& d, const std::string& replyText,
                  TraceEntry t) {
  std::string name(entry.stage->name());
  std::string why = d.mode == CheckMode::Warn
                        ? (d.check.empty() ? std::string("warn") : d.check + " = warn")
                        : std::string("observe mode");
  t.effect = std::string(toString(d.action)) + "_warning";
  countEvent(name + (d.mode == CheckMode::Warn ? ".warned" : ".observed"));
  logMessage(LogLevel::Warning, name + ": " + t.effect + " (" + why + "): would reply: " +
                                    sanitize(replyText) + " (" + d.reason + ")");
  record(std::move(t));
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

void Engine::acceptOnFailure(const Decision& d, TraceEntry t) {
  const std::string name = t.stage;
  countEvent(name + ".dependency_failure");
  metrics::countDependencyFailure(name);
  t.effect = "accepted_on_failure";
  record(std::move(t));
  // One incident per outage: an outage must not write a warning per message.
  policy_->incidents->noteFailure(name, name + ": " + d.reason + " (" + sanitize(d.detail) +
                                            "): on_failure = accept, continuing");
}

void Engine::deferOnFailure(const Decision& d, const Verdict& v, TraceEntry t) {
  const std::string name = t.stage;
  Phase phase = t.phase;
  countEvent(name + ".dependency_failure");
  metrics::countDependencyFailure(name);
  policy_->incidents->noteFailure(name, name + ": " + d.reason + " (" + sanitize(d.detail) +
                                            "): on_failure = tempfail, deferring");
  // defer_if_permit: keep the first reason, let a later definite rejection win.
  t.effect = "defer_if_permit";
  record(std::move(t));
  Held& held = phase == Phase::Rcpt ? rcptDeferral_ : deferred_;
  if (!held.active) held = Held{true, phase, v};
}

Verdict Engine::apply(const StageEntry& entry, Phase phase, const Decision& d, bool* stop) {
  // Stages skip their off checks (and their lookups); one that reports one anyway is ignored.
  if (d.mode == CheckMode::Off) return Verdict::pass(phase);
  std::string name(entry.stage->name());
  std::string outcome = d.reason;
  if (outcome.rfind(name + ".", 0) == 0) outcome = outcome.substr(name.size() + 1);
  TraceEntry t{phase, name, outcome, d.detail, "none"};
  // A decision made without the dependency failing ends that stage's incident ("skip" used none).
  if (!d.dependencyFailure && outcome != "skip") policy_->incidents->noteSuccess(name);

  if (d.action == Action::Pass) {
    record(std::move(t));
    return Verdict::pass(phase);
  }

  Verdict v = verdictOf(d, name, phase);
  std::string replyText = trimLineEnd(v.reply ? v.reply->toSmtp() : toString(v.action));

  // on_failure = accept first: observe mode must not report "would refuse" for a failure the
  // enforcing policy would accept anyway.
  if (d.dependencyFailure && entry.onFailure == FailureMode::Accept) {
    acceptOnFailure(d, std::move(t));
    return Verdict::pass(phase);
  }

  // A check that cannot reject cannot defer either: warn and observe only log.
  if (d.mode == CheckMode::Warn || entry.mode == StageMode::Observe) {
    if (d.dependencyFailure) metrics::countDependencyFailure(name);
    warn(entry, d, replyText, std::move(t));
    return Verdict::pass(phase);
  }

  if (d.dependencyFailure) {
    deferOnFailure(d, v, std::move(t));
    return Verdict::pass(phase);
  }

  if (d.action == Action::Quarantine) {
    // libmilter can quarantine only at end of message: kept until then.
    t.effect = "quarantine_at_end_of_message";
    record(std::move(t));
    if (!quarantine_) quarantine_ = v;
    return Verdict::pass(phase);
  }

  if ((d.action == Action::Reject || d.action == Action::Tempfail) && isPreRcpt(phase) &&
      ((policy_->engine.delayReject && !closesSession(v)) || phase == Phase::Connect)) {
    // Postfix smtpd_delay_reject: sent at RCPT, so the log has sender and recipients and
    // postmaster@/abuse@ stay reachable. A connect decision without delay goes out at the
    // client's next command: libmilter cannot reply at connect time.
    t.effect = "delayed";
    record(std::move(t));
    if (!pending_.active) pending_ = Held{true, phase, v};
    *stop = true;
    return Verdict::pass(phase);
  }

  t.effect = toString(v.action);
  record(std::move(t));
  *stop = true;
  return v;
}

template <class Hook>
Verdict Engine::runPhase(Phase phase, Hook&& hook, Stages which) {
  metrics::Timer timer(phase);
  if (skipsStages(phase)) return Verdict::pass(phase);
  tx_.rejectionHeld = which == Stages::WhileRejected;
  auto runs = [&](const StageEntry& e) {
    return e.phases.contains(phase) && (which == Stages::All || e.runsWhileRejected);
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
  for (const auto& entry : policy_->stages) {
    if (!runs(entry)) continue;
    Findings findings = hook(*entry.stage);
    bool stop = false;
    for (const Decision& d : findings.items()) {
      result = apply(entry, phase, d, &stop);
      if (stop || result.action != Action::Pass) break;
    }
    if (stop || result.action != Action::Pass) break;
  }
  // A failed lookup is the answer of this round only: the next phase or message asks again.
  tx_.dnsAnswers.endRound();
  return result;
}

void Engine::startMessageIfNeeded() {
  if (messageOpen_) return;
  tx_.resetMessage();
  messageEnded_.reset();
  quarantine_.reset();
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
  Verdict v = runPhase(Phase::Connect, [&](const Stage& s) { return s.onConnect(tx_); });
  return v.isRejection() ? Verdict::pass(Phase::Connect) : v;  // held in pending_ instead
}

Verdict Engine::helo(std::string_view name) {
  if (tx_.client.heloSeen) tx_.counters.previousHelo = tx_.client.helo;
  ++tx_.counters.heloCommands;
  tx_.client.helo = std::string(name);
  tx_.client.heloSeen = true;
  clearHeldFrom(Phase::Helo);  // a new HELO is judged afresh
  if (pending_.active && (!policy_->engine.delayReject || closesSession(pending_.verdict)))
    return pending_.verdict;  // from connect
  auto hook = [&](const Stage& s) { return s.onHelo(tx_); };
  return noteClosing(pending_.active ? runPhase(Phase::Helo, hook, Stages::WhileRejected)
                                     : runPhase(Phase::Helo, hook));
}

Verdict Engine::mail(std::string_view sender) {
  if (messageOpen_) finishTransaction("abort");
  startMessageIfNeeded();
  tx_.message.senderSeen = true;
  tx_.message.sender = stripBrackets(sender);
  ++tx_.counters.messages;
  if (pending_.active && (!policy_->engine.delayReject || closesSession(pending_.verdict)))
    return pending_.verdict;
  dropHeldOnAuthentication();
  auto hook = [&](const Stage& s) { return s.onMail(tx_); };
  if (!pending_.active) return noteClosing(runPhase(Phase::Mail, hook));
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
  if (!pending_.active && !deferred_.active) return;
  const Held& held = pending_.active ? pending_ : deferred_;
  record({Phase::Mail, "engine", "authenticated",
          "sasl_username=" + sanitize(c.authUser) + " drops held " + held.verdict.reason,
          "drop_held"});
  pending_ = Held{};
  deferred_ = Held{};
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
  auto remember = [&](const Verdict& v) {
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
  };
  if (isExempt(rcpt)) {
    record({Phase::Rcpt, "engine", "exempt", "<" + sanitize(rcpt) + ">",
            pending_.active || deferred_.active ? "accept despite earlier rejection" : "none"});
    keepRecipient(rcpt);
    return Verdict::pass(Phase::Rcpt);
  }
  auto hook = [&](const Stage& s) { return s.onRcpt(tx_, rcpt); };
  rcptDeferral_ = Held{};  // defer_if_permit of a RCPT is that recipient's alone
  if (pending_.active) {
    // The counting stages (behaviour, ratelimit) still run: a client rejected at HELO must not
    // be able to harvest addresses or RSET without limit. Their 421 wins.
    Verdict v = runPhase(Phase::Rcpt, hook, Stages::WhileRejected);
    return remember(v.isRejection() && closesSession(v) ? v : pending_.verdict);
  }
  Verdict v = runPhase(Phase::Rcpt, hook);
  if (v.isRejection()) return remember(v);
  if (deferred_.active) return remember(deferred_.verdict);
  if (rcptDeferral_.active) return remember(rcptDeferral_.verdict);
  keepRecipient(rcpt);
  return v;
}

void Engine::keepRecipient(std::string rcpt) {
  ++acceptedRcpts_;
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
  // Ended by a header or body verdict: already logged, and nothing else runs.
  if (messageEnded_) return *messageEnded_;
  // A front door that gives no end of headers (none does) still cannot have them all deleted.
  if (auto refused = refuseForgedFields()) return endMessageIfDecided(*refused);
  Verdict v = runPhase(Phase::Eom, [&](const Stage& s) { return s.onEom(tx_); });
  if (!v.isRejection() && deferred_.active && deferred_.phase >= Phase::Header)
    v = deferred_.verdict;
  if (!v.isRejection() && quarantine_) v = *quarantine_;
  if (!v.isRejection()) {
    addAuthenticationResults();
    prepareHeaderEdits();
  }
  if (v.reply) {
    finalReply_ = v.reply->text();
    finalReason_ = v.reason;
  }
  finishTransaction(v.action == Action::Pass ? "accept" : toString(v.action));
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

std::string Engine::summaryHead() const {
  const auto& c = tx_.client;
  const auto& e = tx_.message;
  std::string line = e.queueId.empty() ? "NOQUEUE" : clip(e.queueId, 64);
  line += ": client=" + clip(c.clientName, 255) + "[" + clip(c.clientAddress, 64) + "]";
  line += " helo=<" + clip(c.helo, 100) + ">";
  if (!c.authUser.empty()) line += " sasl_username=" + clip(c.authUser, 255);
  if (e.senderSeen) line += " from=<" + clip(e.sender, 512) + ">";
  return line;
}

std::string Engine::summaryTail() const {
  std::string line = " action=" + finalAction_;
  if (!finalReason_.empty()) line += " reason=" + clip(finalReason_, 128);
  if (!finalReply_.empty()) line += " reply=\"" + clip(finalReply_, 1500) + "\"";
  return line;
}

// Bounded by kMaxSummaryLineBytes: the head and tail fields are cut to fixed sizes, and the three
// lists share what is left.
std::string Engine::summaryLine() const {
  std::array<LogList, 3> lists;
  LogList& to = lists[0];
  to.sep = ",";
  for (const auto& r : tx_.message.recipients) to.items.push_back("<" + sanitize(r) + ">");
  to.total = std::max(acceptedRcpts_, to.items.size());
  LogList& rejected = lists[1];
  rejected.sep = " rejected=";
  rejected.items = rejectedRcpts_;
  rejected.total = std::max(refusedRcpts_, rejected.items.size());
  LogList& stages = lists[2];
  stages.sep = ",";
  stages.keepLast = true;
  for (const auto& t : tx_.trace)
    stages.items.push_back(t.stage + ":" + t.outcome + (t.effect == "none" ? "" : "/" + t.effect));
  stages.total = stages.items.size() + traceDropped_;

  std::string head = summaryHead(), tail = summaryTail();
  const std::array<std::string_view, 3> prefixes{" to=", " rejected=", " stages="};
  size_t fixed = head.size() + tail.size() + std::string_view(" stages=none").size();
  for (size_t k = 0; k < lists.size(); ++k) fixed += prefixes[k].size() + kMarkerBytes;
  size_t room = fixed < kMaxSummaryLineBytes ? kMaxSummaryLineBytes - fixed : 0;
  auto budget = shareRoom({to.bytes(), rejected.bytes(), stages.bytes()}, room);

  std::string line = head;
  if (to.total > 0) line += " to=" + fitList(to, budget[0]);
  if (rejected.total > 0) line += " rejected=" + fitList(rejected, budget[1]);
  line += " stages=" + (stages.total == 0 ? std::string("none") : fitList(stages, budget[2]));
  // The field caps above keep within the bound; this only keeps the promise if they change.
  if (line.size() + tail.size() > kMaxSummaryLineBytes)
    line.resize(kMaxSummaryLineBytes > tail.size() ? kMaxSummaryLineBytes - tail.size() : 0);
  return line + tail;
}

}  // namespace mxguard
