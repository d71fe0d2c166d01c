// headers_stage.cpp - onHeader only records (counts, first offending field, the values of Date,
// From and Message-ID); onEoh decides, checks in the order of the options, each reported with
// its mode; checking stops at the first enforced refusal (the Engine logs the warnings).
// Must not: reject on anything the shipped default does not name in its reply.
#include "stages/headers/headers_stage.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>

#include "base/strings.h"
#include "stages/headers/rfc5322_syntax.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"header_name", "header_value", "problem", "client_address",
                                  "sender"};
constexpr size_t kMaxLine = 998;     // RFC 5322 2.1.1, without CRLF
constexpr size_t kShownValue = 100;  // of a header value quoted in a reply
// Fields that may appear at most once (3.6); Date and From must appear exactly once.
const std::array<const char*, 11> kUnique{"date",        "from",       "sender", "reply-to",
                                          "to",          "cc",         "bcc",    "message-id",
                                          "in-reply-to", "references", "subject"};

struct HeaderState : StageState {
  std::map<std::string, size_t> counts;          // only the kUnique names
  std::string date, from, messageId;             // first occurrence, capped
  std::string badName, longLine, eightBit, nul;  // first offending field name
};

std::string canonical(const std::string& lowerName) {
  // "message-id" -> "Message-ID", "reply-to" -> "Reply-To"
  if (lowerName == "message-id") return "Message-ID";
  std::string out = lowerName;
  bool start = true;
  for (char& c : out) {
    if (start) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    start = c == '-';
  }
  return out;
}

std::string shown(const std::string& v) {
  return v.size() > kShownValue ? v.substr(0, kShownValue) + "..." : v;
}

}  // namespace

std::vector<config::OptionSpec> HeadersStage::options() {
  std::vector<config::OptionSpec> s;
  const std::string p = "550 5.6.0 Message rejected: ";
  declareCheck(s, "missing_date", "reject",
               p + "Date header field is missing (RFC 5322 section 3.6)", "no Date field");
  declareCheck(s, "missing_from", "reject",
               p + "From header field is missing (RFC 5322 section 3.6)", "no From field");
  declareCheck(s, "duplicate", "reject",
               p + "more than one ${header_name} header field (RFC 5322 section 3.6)",
               "a field that may appear once appears more often");
  // Warns unless a policy says reject (strict.conf does): old and broken clients write dates no
  // parser reads, and the mail is legitimate all the same.
  declareCheck(s, "date_syntax", "warn",
               p + "Date header field is not a valid date (${problem}): \"${header_value}\" (RFC "
                   "5322 section 3.3)",
               "Date does not parse, obsolete forms included");
  declareCheck(s, "date_range", "warn",
               p + "Date header field is ${problem}: \"${header_value}\" (RFC 5322 section 3.6.1)",
               "Date very old or in the future");
  s.push_back({"date_max_age", config::OptionKind::Duration, "365d", false, 3600000, 0,
               "date_range: how far in the past a Date may be"});
  s.push_back({"date_max_future", config::OptionKind::Duration, "2d", false, 60000, 0,
               "date_range: how far in the future a Date may be"});
  declareCheck(s, "message_id_syntax", "warn",
               p + "Message-ID header field is not of the form <id@domain> (${problem}): "
                   "\"${header_value}\" (RFC 5322 section 3.6.4)",
               "Message-ID present but malformed");
  declareCheck(s, "field_name", "reject",
               p + "invalid header field name \"${header_name}\" (RFC 5322 section 2.2)",
               "a field name with characters outside printable US-ASCII");
  declareCheck(s, "line_length", "warn",
               p + "a line of the ${header_name} header field is longer than 998 characters (RFC "
                   "5322 section 2.1.1)",
               "a header line over 998 octets");
  declareCheck(s, "eight_bit", "warn",
               p + "8-bit characters in the ${header_name} header field without SMTPUTF8 (RFC "
                   "5322 section 2.2, RFC 6532)",
               "raw 8-bit bytes in a header without SMTPUTF8");
  declareCheck(s, "nul", "reject",
               p + "NUL character in the ${header_name} header field (RFC 5322 section 2.2)",
               "a NUL byte in a header");
  declareCheck(s, "from_syntax", "reject",
               p + "From header field is not a valid address list (${problem}): "
                   "\"${header_value}\" (RFC 5322 section 3.6.2)",
               "From does not parse as a mailbox list");
  return s;
}

StageSharedPtr HeadersStage::create(const config::Section& section, const StageContext&) {
  auto h = std::make_shared<HeadersStage>();
  h->missingDate_ = parseCheck(section, "missing_date", kVars);
  h->missingFrom_ = parseCheck(section, "missing_from", kVars);
  h->duplicate_ = parseCheck(section, "duplicate", kVars);
  h->dateSyntax_ = parseCheck(section, "date_syntax", kVars);
  h->dateRange_ = parseCheck(section, "date_range", kVars);
  h->messageId_ = parseCheck(section, "message_id_syntax", kVars);
  h->fieldName_ = parseCheck(section, "field_name", kVars);
  h->lineLength_ = parseCheck(section, "line_length", kVars);
  h->eightBit_ = parseCheck(section, "eight_bit", kVars);
  h->nul_ = parseCheck(section, "nul", kVars);
  h->fromSyntax_ = parseCheck(section, "from_syntax", kVars);
  h->maxAge_ =
      std::chrono::duration_cast<std::chrono::seconds>(section.getDuration("date_max_age"));
  h->maxFuture_ =
      std::chrono::duration_cast<std::chrono::seconds>(section.getDuration("date_max_future"));
  return h;
}

Findings HeadersStage::onHeader(Connection& tx, const Header& h) const {
  auto& st = tx.messageState<HeaderState>(this);
  bool nameOk = !h.name.empty();
  for (unsigned char c : h.name) nameOk = nameOk && c > 32 && c < 127 && c != ':';
  if (!nameOk && st.badName.empty()) st.badName = h.name.empty() ? "(empty)" : h.name;
  std::string name = lower(h.name);
  if (std::find(kUnique.begin(), kUnique.end(), name) != kUnique.end()) {
    size_t n = ++st.counts[name];
    if (n == 1) {
      std::string v = h.value.substr(0, 4096);
      if (name == "date") st.date = v;
      if (name == "from") st.from = v;
      if (name == "message-id") st.messageId = v;
    }
  }
  // Physical lines: the first carries "Name: ", continuations follow each LF.
  size_t start = 0, lineNo = 0;
  while (start <= h.value.size()) {
    size_t lf = h.value.find('\n', start);
    size_t len = (lf == std::string::npos ? h.value.size() : lf) - start;
    if (len > 0 && h.value[start + len - 1] == '\r') --len;
    if (lineNo == 0) len += h.name.size() + 2;
    if (len > kMaxLine && st.longLine.empty()) st.longLine = h.name;
    if (lf == std::string::npos) break;
    start = lf + 1;
    ++lineNo;
  }
  if (st.nul.empty() &&
      (h.value.find('\0') != std::string::npos || h.name.find('\0') != std::string::npos))
    st.nul = h.name;
  if (st.eightBit.empty() && !tx.message.smtputf8)
    for (unsigned char c : h.value)
      if (c >= 0x80) {
        st.eightBit = h.name;
        break;
      }
  return {};
}

Findings HeadersStage::onEoh(Connection& tx) const {
  auto& st = tx.messageState<HeaderState>(this);
  Findings out;
  TemplateVars base{{"client_address", tx.client.clientAddress}, {"sender", tx.message.sender}};
  // Reports one failed check; true when it refuses (checking stops there).
  auto check = [&](const Check& c, TemplateVars extra, const std::string& detail) {
    if (c.off()) return false;
    for (auto& [k, v] : base) extra.emplace(k, v);
    out.add(failCheck(c, "headers", extra, detail));
    return out.refused();
  };

  if (!st.nul.empty())
    if (check(nul_, {{"header_name", st.nul}}, "NUL in " + st.nul)) return out;
  if (!st.badName.empty())
    if (check(fieldName_, {{"header_name", st.badName}}, "field name " + st.badName)) return out;
  if (!st.counts.count("date"))
    if (check(missingDate_, {}, "no Date")) return out;
  if (!st.counts.count("from"))
    if (check(missingFrom_, {}, "no From")) return out;
  for (const char* name : kUnique) {
    auto it = st.counts.find(name);
    if (it != st.counts.end() && it->second > 1)
      if (check(duplicate_, {{"header_name", canonical(name)}},
                std::to_string(it->second) + " " + canonical(name) + " fields"))
        return out;
  }
  if (st.counts.count("date")) {
    std::string problem;
    auto when = parseRfc5322Date(st.date, &problem);
    if (!when) {
      if (check(dateSyntax_, {{"header_value", shown(st.date)}, {"problem", problem}},
                "Date: " + problem))
        return out;
    } else {
      int64_t now =
          std::chrono::duration_cast<std::chrono::seconds>(tx.clock().wallNow().time_since_epoch())
              .count();
      std::string range;
      if (*when < now - maxAge_.count())
        range = "more than " + std::to_string(maxAge_.count() / 86400) + " days in the past";
      else if (*when > now + maxFuture_.count())
        range = "more than " + std::to_string(maxFuture_.count() / 3600) + " hours in the future";
      if (!range.empty())
        if (check(dateRange_, {{"header_value", shown(st.date)}, {"problem", range}},
                  "Date " + range))
          return out;
    }
  }
  if (st.counts.count("message-id")) {
    std::string problem;
    if (!isMsgId(st.messageId, &problem))
      if (check(messageId_, {{"header_value", shown(st.messageId)}, {"problem", problem}},
                "Message-ID: " + problem))
        return out;
  }
  if (!st.longLine.empty())
    if (check(lineLength_, {{"header_name", st.longLine}}, "long line in " + st.longLine))
      return out;
  if (!st.eightBit.empty())
    if (check(eightBit_, {{"header_name", st.eightBit}}, "8-bit in " + st.eightBit)) return out;
  if (st.counts.count("from")) {
    std::string problem;
    if (!isMailboxList(st.from, tx.message.smtputf8, &problem))
      if (check(fromSyntax_, {{"header_value", shown(st.from)}, {"problem", problem}},
                "From: " + problem))
        return out;
  }
  if (out.empty())
    return Decision::pass("headers.ok", std::to_string(tx.message.headerCount) + " fields");
  return out;
}

}  // namespace mxguard::stages
