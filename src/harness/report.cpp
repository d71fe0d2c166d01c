// report.cpp - text and JSON renderings; the JSON through nlohmann::json, the escaper the
// transaction log uses too, so --json and the record file agree on every byte.
// Must not: print control bytes or invalid UTF-8 from outside: JSON escapes the one and replaces
// the other.
#include "harness/report.h"

#include "app/json_text.h"

namespace mxguard::harness {
namespace {

using Json = nlohmann::ordered_json;  // keys in the order written: the golden files pin it

Json replyJson(const Step& s) {
  return Json{{"code", s.code},
              {"enhanced", s.enhanced.empty() ? Json(nullptr) : Json(s.enhanced)},
              {"text", s.text}};
}

std::string replyLine(const Step& s) {
  return std::to_string(s.code) + (s.enhanced.empty() ? "" : " " + s.enhanced) + " " + s.text;
}

}  // namespace

std::string formatText(const Outcome& o) {
  std::string out;
  for (const auto& s : o.steps) {
    out += ">>> " + s.command + "\n";
    if (s.lines.size() <= 1) {
      out += "<<< " + replyLine(s) + "\n";
      continue;
    }
    for (size_t i = 0; i < s.lines.size(); ++i)  // multi-line: "554-5.7.1 ..." then "554 5.7.1 ..."
      out += "<<< " + std::to_string(s.code) + (i + 1 < s.lines.size() ? "-" : " ") + s.enhanced +
             " " + s.lines[i] + "\n";
  }
  out += "\ntrace:\n";
  for (const auto& t : o.trace) {
    out += "  " + std::string(toString(t.phase)) + " " + t.stage + ": " + t.outcome;
    if (!t.detail.empty()) out += " (" + t.detail + ")";
    if (t.effect != "none") out += " -> " + t.effect;
    out += "\n";
  }
  if (o.trace.empty()) out += "  (no stage ran)\n";
  if (!o.addedHeaders.empty() || !o.removedHeaders.empty()) {
    out += "\nheader changes:\n";
    for (const auto& [name, index] : o.removedHeaders)
      out += "  - " + name + " #" + std::to_string(index) + "\n";
    for (const auto& h : o.addedHeaders) {  // folded as it will be in the message
      std::string v;
      for (char c : h.value) v += c == '\n' ? std::string("\n    ") : std::string(1, c);
      out += "  + " + h.name + ": " + v + "\n";
    }
  }
  out += "\nresult: " + o.action;
  if (o.firstRejection)
    out += " at " + o.firstRejection->command + " by " + o.firstRejection->stage + " (" +
           o.firstRejection->reason + ", decided at " + o.firstRejection->phase + ")";
  out += "\n";
  if (!o.log.empty()) {
    out += "\nlog:\n";
    for (const auto& l : o.log) out += "  " + l + "\n";
  }
  return out;
}

std::string formatJson(const Outcome& o) {
  Json j{{"action", o.action}};
  if (o.firstRejection) {
    const auto& r = *o.firstRejection;
    j["reply"] = replyJson(r);
    j["phase"] = r.phase;
    j["stage"] = r.stage;
    j["reason"] = r.reason;
  } else {
    for (const char* key : {"reply", "phase", "stage", "reason"}) j[key] = nullptr;
  }
  Json& steps = j["steps"] = Json::array();
  for (const auto& s : o.steps) steps.push_back({{"command", s.command}, {"reply", replyJson(s)}});
  Json& trace = j["trace"] = Json::array();
  for (const auto& t : o.trace)
    trace.push_back({{"phase", toString(t.phase)},
                     {"stage", t.stage},
                     {"outcome", t.outcome},
                     {"detail", t.detail},
                     {"effect", t.effect}});
  Json& added = j["added_headers"] = Json::array();
  for (const auto& h : o.addedHeaders) added.push_back({{"name", h.name}, {"value", h.value}});
  Json& removed = j["removed_headers"] = Json::array();
  for (const auto& [name, index] : o.removedHeaders)
    removed.push_back({{"name", name}, {"index", index}});
  j["log"] = o.log;
  return app::dumpJson(j) + "\n";
}

}  // namespace mxguard::harness
