// explain.cpp - a trace entry is a finding when its effect refused or held the message, when it
// was only observed or warned, or when it is an authentication result short of "pass" (which
// stricter receivers act on even where this policy does not).
// Must not: invent evidence: what is shown comes from the trace, the replies and the log.
#include "harness/explain.h"

#include "app/json_text.h"
#include "harness/explanations.h"
#include "harness/report.h"

namespace mxguard::harness {
namespace {

std::string fill(std::string_view text, const Transcript& t) {
  std::string sender = t.sender && !t.sender->empty() ? *t.sender : "<>";
  std::string domain;
  if (t.sender && t.sender->find('@') != std::string::npos)
    domain = t.sender->substr(t.sender->rfind('@') + 1);
  else
    domain = t.helo.value_or("");
  const std::pair<std::string, std::string> vars[] = {{"{client}", t.clientIp},
                                                      {"{helo}", t.helo.value_or("")},
                                                      {"{sender}", sender},
                                                      {"{domain}", domain}};
  std::string out(text);
  for (const auto& [k, v] : vars)
    for (size_t p = out.find(k); p != std::string::npos; p = out.find(k, p + v.size()))
      out.replace(p, k.size(), v);
  return out;
}

// The reply a step gave for this reason, or the one observe mode logged it would give.
std::string replyFor(const Outcome& o, const std::string& reason) {
  for (const auto& s : o.steps)
    if (s.reason == reason) return std::to_string(s.code) + " " + s.enhanced + " " + s.text;
  const std::string marker = "would reply: ";
  for (const auto& l : o.log) {
    size_t at = l.find(marker);
    if (at == std::string::npos || l.find("(" + reason + ")") == std::string::npos) continue;
    std::string r = l.substr(at + marker.size());
    return r.substr(0, r.rfind(" (" + reason + ")"));
  }
  return "";
}

bool isAdvisory(const std::string& reason) {
  // Authentication results below "pass" that this policy accepted: a stricter receiver may not.
  static const char* kAdvisory[] = {"spf.softfail", "spf.neutral", "spf.none",    "spf.permerror",
                                    "spf.fail",     "dkim.fail",   "dkim.policy", "dkim.permerror"};
  for (const char* a : kAdvisory)
    if (reason == a) return true;
  return false;
}

}  // namespace

std::vector<Finding> findings(const Outcome& o, const Transcript& t) {
  std::vector<Finding> out;
  for (const auto& e : o.trace) {
    if (e.stage == "engine" || e.effect == "skipped") continue;
    if (e.stage == "access" && e.outcome != "reject" && e.outcome != "tempfail") continue;
    std::string reason = e.stage + "." + e.outcome;
    std::string status;
    if (e.effect == "reject" || (e.effect == "delayed" && replyFor(o, reason).rfind("5", 0) == 0))
      status = "rejected";
    else if (e.effect == "tempfail" || e.effect == "delayed" || e.effect == "defer_if_permit")
      status = "deferred";
    else if (e.effect.ends_with("_warning"))
      status = "would be refused (observe mode)";
    else if (e.detail.rfind("warn: would reply", 0) == 0)
      status = "warning (not enforced)";
    else if (e.effect == "accepted_on_failure")
      status = "not checked (the receiver's lookup failed)";
    else if (isAdvisory(reason))
      status = "accepted here; stricter receivers may refuse";
    else
      continue;
    Finding f;
    f.reason = reason;
    f.phase = toString(e.phase);
    f.status = status;
    f.evidence = e.detail;
    f.reply = replyFor(o, reason);
    f.policyClass = e.lane;
    if (!e.lane.empty()) f.status += " for recipients of class " + e.lane;
    if (f.reply.empty() && e.detail.rfind("warn: would reply ", 0) == 0) {
      f.reply = e.detail.substr(18);
      f.evidence = "";
      if (size_t semi = f.reply.find("; "); semi != std::string::npos) {
        f.evidence = f.reply.substr(semi + 2);
        f.reply = f.reply.substr(0, semi);
      }
    }
    if (const Explanation* x = explanationFor(reason)) {
      f.meaning = fill(x->meaning, t);
      f.fix = fill(x->fix, t);
    } else {
      f.meaning = "(no explanation written for " + reason + ")";
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::string formatFindingsText(const std::vector<Finding>& fs) {
  std::string out = "\nexplain:\n";
  if (fs.empty()) out += "  nothing failed: every check passed\n";
  // Evidence and replies quote remote servers, the meaning the client's own names: as the
  // dialogue does, none of it reaches the terminal raw.
  auto line = [&](const char* label, const std::string& text) {
    if (!text.empty()) out += label + terminalText(text) + "\n";
  };
  for (const auto& f : fs) {
    out += "  " + terminalText(f.reason + ": " + f.status + " (decided at " + f.phase + ")") + "\n";
    out += "    what it means: " + terminalText(f.meaning) + "\n";
    line("    evidence:      ", f.evidence);
    line("    reply:         ", f.reply);
    line("    what to do:    ", f.fix);
  }
  return out;
}

std::string formatFindingsJson(const std::vector<Finding>& fs) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& f : fs) {
    out.push_back({{"reason", f.reason},
                   {"phase", f.phase},
                   {"status", f.status},
                   {"evidence", f.evidence},
                   {"reply", f.reply},
                   {"meaning", f.meaning},
                   {"fix", f.fix}});
    if (!f.policyClass.empty()) out.back()["class"] = f.policyClass;
  }
  return app::dumpJson(out);
}

std::vector<std::string> appliedRules(const Outcome& o) {
  std::vector<std::string> out;
  for (const auto& e : o.trace) {
    if (e.stage == "access" && e.outcome != "reject" && e.outcome != "tempfail")
      out.push_back(e.outcome + ": " + e.detail + ": " + e.effect);
    else if (e.stage == "engine" && e.outcome == "class")
      out.push_back("class " + e.effect.substr(e.effect.rfind(' ') + 1) + ": " + e.detail);
    else if (e.effect == "skipped")
      out.push_back(e.stage + "." + e.outcome + " skipped" +
                    (e.lane.empty() ? "" : " for recipients of class " + e.lane));
  }
  return out;
}

std::string formatAppliedText(const std::vector<std::string>& applied) {
  if (applied.empty()) return "";
  std::string out = "\npolicy exceptions and classes applied:\n";
  for (const auto& a : applied) out += "  " + terminalText(a) + "\n";
  return out;
}

}  // namespace mxguard::harness
