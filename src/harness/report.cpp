// report.cpp - text and JSON renderings; JSON escaping done here (no JSON library needed for
// writing one flat object).
// Must not: print raw outside bytes: every value is escaped.
#include "harness/report.h"

#include <cstdio>

namespace mxguard::harness {
namespace {

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string replyJson(const Step& s) {
  return "{\"code\":" + std::to_string(s.code) +
         ",\"enhanced\":" + (s.enhanced.empty() ? std::string("null") : jsonString(s.enhanced)) +
         ",\"text\":" + jsonString(s.text) + "}";
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
  std::string out = "{\"action\":" + jsonString(o.action);
  if (o.firstRejection) {
    const auto& r = *o.firstRejection;
    out += ",\"reply\":" + replyJson(r) + ",\"phase\":" + jsonString(r.phase) +
           ",\"stage\":" + jsonString(r.stage) + ",\"reason\":" + jsonString(r.reason);
  } else {
    out += ",\"reply\":null,\"phase\":null,\"stage\":null,\"reason\":null";
  }
  out += ",\"steps\":[";
  for (size_t i = 0; i < o.steps.size(); ++i) {
    out += (i ? "," : "") + std::string("{\"command\":") + jsonString(o.steps[i].command) +
           ",\"reply\":" + replyJson(o.steps[i]) + "}";
  }
  out += "],\"trace\":[";
  for (size_t i = 0; i < o.trace.size(); ++i) {
    const auto& t = o.trace[i];
    out += (i ? "," : "") + std::string("{\"phase\":") +
           jsonString(std::string(toString(t.phase))) + ",\"stage\":" + jsonString(t.stage) +
           ",\"outcome\":" + jsonString(t.outcome) + ",\"detail\":" + jsonString(t.detail) +
           ",\"effect\":" + jsonString(t.effect) + "}";
  }
  out += "],\"added_headers\":[";
  for (size_t i = 0; i < o.addedHeaders.size(); ++i)
    out += (i ? "," : "") + std::string("{\"name\":") + jsonString(o.addedHeaders[i].name) +
           ",\"value\":" + jsonString(o.addedHeaders[i].value) + "}";
  out += "],\"removed_headers\":[";
  for (size_t i = 0; i < o.removedHeaders.size(); ++i)
    out += (i ? "," : "") + std::string("{\"name\":") + jsonString(o.removedHeaders[i].first) +
           ",\"index\":" + std::to_string(o.removedHeaders[i].second) + "}";
  out += "],\"log\":[";
  for (size_t i = 0; i < o.log.size(); ++i) out += (i ? "," : "") + jsonString(o.log[i]);
  out += "]}\n";
  return out;
}

}  // namespace mxguard::harness
