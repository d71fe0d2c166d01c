// engine.h - the engine: runs a policy's stages over one SMTP connection, phase by phase, and
// owns the rules (whitelists, exemptions, observe mode, on_failure, delayed reject, soft bounce).
// Must not: talk to an MTA; front doors (milter adapter, harness) translate to and from it.
#pragma once

#include <deque>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/connection.h"
#include "core/policy.h"
#include "core/verdict.h"

namespace mxguard {

class Engine {
 public:
  explicit Engine(PolicySharedPtr policy);

  Connection& connection() { return tx_; }
  const Connection& connection() const { return tx_; }
  const Policy& policy() const { return *policy_; }

  // Each step: the front door fills tx.client first (address, names, auth user), then calls.
  // A connect verdict is never a rejection: like Postfix's smtpd_delay_reject, and because
  // libmilter cannot set a reply at connect time, it is held for a later step.
  // Header and body steps are unanswered in the milter protocol: a verdict that ends the message
  // there is kept by the Engine and given again by every later step of the message (end of
  // headers, body, end of message), whose stages no longer run. Both front doors rely on it.
  Verdict connect();
  Verdict helo(std::string_view name);
  Verdict mail(std::string_view sender);  // "" or "<>" = null sender; brackets are stripped
  Verdict rcpt(std::string_view recipient);
  // `leading`: the white space between colon and value as received (see Header::leading).
  Verdict header(std::string_view name, std::string_view value, std::string_view leading = " ");
  Verdict endOfHeaders();
  Verdict body(std::string_view chunk);
  Verdict endOfMessage();
  void abort();  // RSET or aborted message: message state dropped, connection state kept
  void close();

  // The header edits an accepted message gets at end of message, in the order a front door must
  // make them: deletions first, highest index first (so one does not renumber the next), then
  // insertions at the top. Empty for a refused message.
  struct HeaderEdit {
    enum class Kind { Delete, Insert } kind;
    std::string name;
    int index = 0;      // Delete: 1-based index among the fields of that name
    std::string value;  // Insert
  };
  const std::vector<HeaderEdit>& headerEdits() const { return headerEdits_; }

  // One line per transaction (Haraka's collated results): queue id, client, helo, sender,
  // recipients, every stage's outcome, final action. Also logged by the Engine itself at the
  // end of each transaction (end of message, abort, or close).
  std::string summaryLine() const;

  // What one transaction can make the engine hold, edit and log, whatever the client sends
  // (issue 28: 130,000 forged fields, 100,000 recipients).
  static constexpr size_t kMaxKeptHeaders = 1000;     // header fields kept for the stages
  static constexpr size_t kMaxKeptRecipients = 1000;  // recipients kept (all are counted)
  // The trace in bytes (stage, outcome, detail, effect): past three quarters only entries with
  // an effect are kept, so the decision stays visible; past the whole, entries are only counted.
  static constexpr size_t kMaxTraceBytes = 64 * 1024;
  // The summary line: each outside field cut, each list (to=, rejected=, stages=) ending in
  // "... (N more)" when it does not fit; syslog and journald keep a line this long whole.
  static constexpr size_t kMaxSummaryLineBytes = 4096;
  // Deletions and insertions one message can ask of the MTA: Postfix's cleanup gives up (451,
  // and throttles the next message) long before 130,000.
  static constexpr size_t kMaxHeaderEdits = 128;

 private:
  struct Held {
    bool active = false;
    Phase phase = Phase::Connect;  // where it was decided
    Verdict verdict;
    std::string check;  // the check that decided it (Decision::check), for Policy::relaxable
  };
  // What one class of recipients has been told so far in this transaction (Judging): the
  // policy's own lane always exists; a class's lane is made at its first recipient, by judging
  // again what connect, HELO and MAIL found (kept_).
  struct Lane {
    const Judging* judging = nullptr;  // the class's; null = the policy's
    std::vector<std::string> skip;     // from a recipient access rule ("*" = allow)
    Judging skipJudging;               // the same, as a Judging
    std::string label;                 // trace label; empty for the policy's own lane
    Held pending;                      // a delayed rejection (connect/HELO/MAIL), given at RCPT
    // defer_if_permit: the first dependency tempfail of the connection (connect, HELO) or of
    // the message (MAIL, DATA), delivered if nothing rejects.
    Held deferred;
    std::optional<Verdict> quarantine;  // quarantine asked for: given at end of message
    bool hasRecipients = false;         // a recipient of this lane was accepted
  };
  // What a pre-RCPT phase's stage found, kept for the lanes made later
  // (Policy::judgesPerRecipient).
  struct Kept {
    Phase phase;
    const StageEntry* entry;
    Findings findings;
  };
  bool skipsStages(Phase phase);  // whitelisted, authenticated or allowed (traced once)
  void record(TraceEntry t, bool count = true);  // into the trace (kMaxTraceBytes); a metric
  bool isExempt(std::string_view recipient) const;
  // WhileRejected: only the stages that must see every command (StageEntry::runsWhileRejected),
  // for when a rejection is already held for this transaction.
  enum class Stages { All, WhileRejected };
  // Runs the phase's stages once and judges their findings for `only` or, when null, for each
  // lane the phase belongs to (lanesOf); the strictest verdict wins.
  template <class Hook>
  Verdict runPhase(Phase phase, Hook&& hook, Stages which = Stages::All, Lane* only = nullptr);
  const std::vector<Lane*>& lanesOf(Phase phase, Lane* only = nullptr);
  Verdict judge(const StageEntry& entry, Phase phase, const Findings& findings, Lane& lane,
                bool* stop, bool count);
  Verdict noteClosing(Verdict v);
  // What a stage's decision becomes in `lane`; sets *stop when the phase must not run further
  // stages for it. `count`: also a metric sample (a lane judging again counts nothing).
  Verdict apply(const StageEntry& entry, Phase phase, const Decision& d, bool* stop, Lane& lane,
                bool count);
  Verdict verdictOf(const Decision& d, const std::string& stage, Phase phase) const;
  // The effective mode of a check in a lane: the class's, then the policy's, then as reported.
  CheckMode checkModeIn(const Lane& lane, std::string_view stage, const Decision& d) const;
  bool skipsIn(const Lane& lane, std::string_view stage, std::string_view check) const;
  bool scopedSkip(std::string_view stage) const;
  bool mayBeRelaxed(const Held& held) const;  // some class may not follow it (Policy::relaxable) //
                                              // a client/HELO/sender rule skips the stage
  // A dependency failure under on_failure = accept (logged once per incident) or = tempfail
  // (held like Postfix's defer_if_permit); `t` is its trace entry, stage and phase filled in.
  void acceptOnFailure(const Decision& d, TraceEntry t, bool count);
  void deferOnFailure(const Decision& d, const Verdict& v, TraceEntry t, Lane& lane, bool count);
  void startMessageIfNeeded();
  void dropHeldOnAuthentication();
  void warn(const StageEntry& entry, const Decision& d, CheckMode mode,
            const std::string& replyText, TraceEntry t, bool count);
  void prepareHeaderEdits();
  void finishTransaction(const char* action);
  void recordTransaction() const;
  Verdict endMessageIfDecided(Verdict v);
  void clearHeldFrom(Phase earliest);
  std::string authservId() const;
  void noteAuthenticationResults(std::string_view value);
  std::optional<Verdict> refuseForgedFields();  // more forgeries than we remove: a 550
  void keepRecipient(std::string rcpt, Lane& lane);
  std::string summaryHead() const;  // queue id, client, helo, sasl_username, from
  std::string summaryTail() const;  // action, reason, reply
  void addAuthenticationResults();

  // Access maps ([access]): the first entry that matches the subject, traced; a reject or
  // tempfail is judged like a stage's decision (so held to RCPT, and judged by every lane).
  std::optional<AccessHit> consultAccess(AccessSubject subject, std::string_view value,
                                         Phase phase);
  Verdict applyAccess(Phase phase, std::initializer_list<AccessSubject> subjects);
  const PolicyClass* classOf(std::string_view recipient, std::string* where) const;
  Lane& laneFor(const PolicyClass* cls, const std::vector<std::string>& skip);
  void judgeKept(Lane& lane);
  Verdict rcptInLane(const std::string& rcpt, Lane& lane);
  Verdict refuseRecipient(const std::string& rcpt, const Verdict& v);

  PolicySharedPtr policy_;
  Connection tx_;
  Lane base_;                       // the policy's own lane
  std::deque<Lane> classLanes_;     // the others of this transaction (stable addresses)
  std::vector<Kept> kept_;          // pre-RCPT findings, for classLanes_ (judgesPerRecipient)
  std::vector<Lane*> phaseLanes_;   // lanesOf's answer, reused
  std::vector<char> phaseStopped_;  // runPhase's per-lane stop flags, reused
  // defer_if_permit of a RCPT phase is that recipient's alone, as Postfix evaluates it per RCPT.
  Held rcptDeferral_;
  // What client, HELO and sender access rules allowed or skipped, for their scope.
  bool clientAllowed_ = false, heloAllowed_ = false, senderAllowed_ = false;
  Judging clientSkips_, heloSkips_, senderSkips_;
  std::optional<Verdict> messageEnded_;  // a header/body verdict that ended the message
  std::vector<HeaderEdit> headerEdits_;
  bool whitelistTraced_ = false;
  bool messageOpen_ = false;  // MAIL seen and the transaction not yet logged
  bool anyTransaction_ = false;
  int authResultsSeen_ = 0;                 // Authentication-Results fields of this message so far
  size_t forgedAuthResults_ = 0;            // ... of them claiming our authserv-id (removed or not)
  size_t traceBytes_ = 0;                   // what tx_.trace holds (kMaxTraceBytes)
  size_t traceDropped_ = 0;                 // entries not kept since the transaction began
  size_t acceptedRcpts_ = 0;                // recipients accepted, kept in tx_.message or not
  size_t refusedRcpts_ = 0;                 // recipients refused, kept in rejectedRcpts_ or not
  std::vector<std::string> rejectedRcpts_;  // "<rcpt> 554 5.7.1" (kMaxKeptRecipients)
  std::vector<std::string> attemptedRcpts_;  // every RCPT TO of this transaction (for the record)
  std::string finalAction_ = "none";
  std::string finalReply_;
  std::string finalReason_;
};

}  // namespace mxguard
