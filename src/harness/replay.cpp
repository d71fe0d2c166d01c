// replay.cpp - each record becomes a Transcript (its envelope, and its header fields as a
// message without body when they were recorded), run through the same dialogue as a single
// mxguard-check; verdicts are compared as accepted / rejected / deferred.
// The file is streamed: one line is read, parsed, replayed and dropped before the next.
// Must not: stop at a broken record (the reader reports and skips it), print the whole file, or
// keep more of it than the few examples the report shows.
#include "harness/replay.h"

#include "harness/dialogue.h"
#include "harness/report.h"

namespace mxguard::harness {
namespace {

constexpr size_t kExamplesPerKind = 5;

std::string category(const std::string& action) {
  if (action == "reject") return "rejected";
  if (action == "tempfail") return "deferred";
  return "accepted";
}

Transcript transcriptOf(const MessageRecord& r, const std::string& ourHostname) {
  Transcript t;
  t.clientIp = r.clientAddress;
  t.clientName = r.clientName;
  t.authUser = r.authUser;
  if (r.heloSeen) t.helo = r.helo;
  t.sender = r.sender;
  t.recipients = r.recipients;
  if (t.recipients.empty()) t.recipients.push_back("recipient@example.com");
  if (!r.headers.empty()) {
    std::string m;
    for (const auto& h : r.headers) m += h.name + ": " + h.value + "\r\n";
    t.message = m + "\r\n";
  }
  t.ourHostname = ourHostname;
  return t;
}

struct Result {
  std::string verdict, reason, reply;
};

Result run(PolicySharedPtr policy, const Transcript& t) {
  Outcome o = runDialogue(std::move(policy), t);
  Result r{category(o.action), "", ""};
  if (o.firstRejection) {
    r.reason = o.firstRejection->reason;
    r.reply = std::to_string(o.firstRejection->code) + " " + o.firstRejection->enhanced + " " +
              o.firstRejection->text;
  }
  return r;
}

}  // namespace

Replayer::Replayer(PolicySharedPtr newPolicy, PolicySharedPtr oldPolicy, std::string ourHostname)
    : new_(std::move(newPolicy)),
      old_(std::move(oldPolicy)),
      ourHostname_(std::move(ourHostname)) {}

void Replayer::add(const MessageRecord& rec) {
  ReplayReport& report = report_;
  ++report.total;
  Transcript t = transcriptOf(rec, ourHostname_);
  Result now = run(new_, t);
  Result before = old_ ? run(old_, t) : Result{category(rec.action), rec.reason, rec.reply};
  if (now.verdict == before.verdict) {
    ++report.unchangedByVerdict[now.verdict];
    return;
  }
  std::string kind = before.verdict + " -> " + now.verdict;
  // The check responsible: the one that now refuses, or the one that used to.
  std::string why = now.verdict != "accepted" ? now.reason : before.reason;
  ++report.changes[kind][why.empty() ? "(no reason recorded)" : why];
  size_t shown = 0;
  for (const auto& e : report.examples) shown += (e.before + " -> " + e.after) == kind;
  if (shown < kExamplesPerKind)
    report.examples.push_back(
        {rec, before.verdict, before.reason, now.verdict, now.reason, now.reply});
}

std::string formatReplay(const ReplayReport& r, const std::string& file, const std::string& newName,
                         const std::string& oldName) {
  std::string out = "replay: " + std::to_string(r.total) + " transactions from " + file + "\n";
  out += "policy " + newName + " compared with " +
         (oldName.empty() ? std::string("the verdicts recorded") : oldName) + "\n\n";
  size_t changed = 0;
  for (const auto& [kind, reasons] : r.changes) {
    size_t n = 0;
    for (const auto& [reason, count] : reasons) n += count;
    changed += n;
    std::string after = kind.substr(kind.find("-> ") + 3);
    std::string before = kind.substr(0, kind.find(" ->"));
    out += std::to_string(n) + " of " + std::to_string(r.total) + " would now be " + after +
           " (they were " + before + "), by: ";
    bool first = true;
    for (const auto& [reason, count] : reasons) {
      out += (first ? "" : ", ") + reason + " " + std::to_string(count);
      first = false;
    }
    out += "\n";
  }
  if (changed == 0) out += "no verdict would change\n";
  out += "unchanged: " + std::to_string(r.total - changed);
  std::string parts;
  for (const auto& [verdict, n] : r.unchangedByVerdict)
    parts += (parts.empty() ? "" : ", ") + std::to_string(n) + " " + verdict;
  out += parts.empty() ? "\n" : " (" + parts + ")\n";
  if (!r.examples.empty()) out += "\nexamples:\n";
  for (const auto& e : r.examples) {
    const auto& rec = e.record;
    // A recorded transaction is what a client sent: shown like every remote value (no control
    // bytes reach the terminal).
    std::string line = (rec.time.empty() ? std::string("-") : rec.time) + " " + rec.clientAddress +
                       " helo=<" + rec.helo + "> from=<" + rec.sender + ">: " + e.before +
                       (e.beforeReason.empty() ? "" : " (" + e.beforeReason + ")") + " -> " +
                       e.after + (e.afterReason.empty() ? "" : " (" + e.afterReason + ")") +
                       (e.afterReply.empty() ? "" : ": " + e.afterReply);
    out += "  " + terminalText(line) + "\n";
  }
  out +=
      "\nnote: DNS answers are today's; message bodies are never recorded, so body checks "
      "(DKIM body hashes) cannot be replayed.\n";
  return out;
}

}  // namespace mxguard::harness
