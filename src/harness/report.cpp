// report.cpp - text and JSON renderings; the JSON through nlohmann::json, the escaper the
// transaction log uses too, so --json and the record file agree on every byte.
// Must not: print control bytes or invalid UTF-8 from outside: JSON escapes the one and replaces
// the other, the text output prints '?' for both (terminalText).
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

// The length of the valid UTF-8 character (RFC 3629: no overlong form, no surrogate, nothing
// above U+10FFFF) starting at s[i], or 0.
size_t utf8Length(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xc2 && c <= 0xdf   ? 2
             : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;  // the second byte's range
  unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  for (size_t k = 1; k < n; ++k) {
    unsigned char b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf)) return 0;
  }
  return n;
}

// A header value as it will be in the message: each folded line indented under the first.
std::string foldedValue(std::string_view v) {
  std::string out;
  for (size_t pos = 0;;) {
    size_t lf = v.find('\n', pos);
    out += terminalText(v.substr(pos, lf == std::string_view::npos ? v.npos : lf - pos));
    if (lf == std::string_view::npos) return out;
    out += "\n    ";
    pos = lf + 1;
  }
}

}  // namespace

std::string terminalText(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back((c >= 0x20 && c != 0x7f) || c == '\t' ? static_cast<char>(c) : '?');
      ++i;
      continue;
    }
    size_t n = utf8Length(s, i);
    // C2 80..C2 9F is U+0080..U+009F: C1 controls, CSI and OSC to an 8-bit terminal.
    bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0;
    if (n == 0 || c1) {
      out.push_back('?');
      i += n == 0 ? 1 : n;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string formatText(const Outcome& o) {
  std::string out;
  for (const auto& s : o.steps) {
    out += ">>> " + terminalText(s.command) + "\n";
    if (s.lines.size() <= 1) {
      out += "<<< " + terminalText(replyLine(s)) + "\n";
      continue;
    }
    for (size_t i = 0; i < s.lines.size(); ++i)  // multi-line: "554-5.7.1 ..." then "554 5.7.1 ..."
      out += "<<< " + std::to_string(s.code) + (i + 1 < s.lines.size() ? "-" : " ") +
             terminalText(s.enhanced + " " + s.lines[i]) + "\n";
  }
  out += "\ntrace:\n";
  for (const auto& t : o.trace) {
    out += "  " + std::string(toString(t.phase)) + " " + terminalText(t.stage) + ": " +
           terminalText(t.outcome);
    if (!t.detail.empty()) out += " (" + terminalText(t.detail) + ")";
    if (t.effect != "none") out += " -> " + terminalText(t.effect);
    if (!t.lane.empty()) out += " (class " + terminalText(t.lane) + ")";
    out += "\n";
  }
  if (o.trace.empty()) out += "  (no stage ran)\n";
  if (!o.addedHeaders.empty() || !o.removedHeaders.empty()) {
    out += "\nheader changes:\n";
    for (const auto& [name, index] : o.removedHeaders)
      out += "  - " + terminalText(name) + " #" + std::to_string(index) + "\n";
    for (const auto& h : o.addedHeaders)
      out += "  + " + terminalText(h.name) + ": " + foldedValue(h.value) + "\n";
  }
  out += "\nresult: " + o.action;
  if (o.firstRejection) {
    const Step& r = *o.firstRejection;
    out += terminalText(" at " + r.command + " by " + r.stage + " (" + r.reason + ", decided at " +
                        r.phase + ")");
  }
  out += "\n";
  if (!o.log.empty()) {
    out += "\nlog:\n";
    for (const auto& l : o.log) out += "  " + terminalText(l) + "\n";
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
  for (const auto& t : o.trace) {
    trace.push_back({{"phase", toString(t.phase)},
                     {"stage", t.stage},
                     {"outcome", t.outcome},
                     {"detail", t.detail},
                     {"effect", t.effect}});
    if (!t.lane.empty()) trace.back()["class"] = t.lane;  // judged by a recipient class
  }
  Json& added = j["added_headers"] = Json::array();
  for (const auto& h : o.addedHeaders) added.push_back({{"name", h.name}, {"value", h.value}});
  Json& removed = j["removed_headers"] = Json::array();
  for (const auto& [name, index] : o.removedHeaders)
    removed.push_back({{"name", name}, {"index", index}});
  j["log"] = o.log;
  return app::dumpJson(j) + "\n";
}

}  // namespace mxguard::harness
