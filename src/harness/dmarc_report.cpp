// dmarc_report.cpp - plain string building (no XML library: the document is small, flat and
// write-only); every value is mapped into the enumerations of RFC 7489 appendix C, so a recorded
// value the schema does not know cannot make the whole report invalid.
// Must not: write a value unescaped, or an element the appendix C schema does not define.
#include "harness/dmarc_report.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <stdexcept>

#include "base/strings.h"
#include "core/ip_address.h"

namespace mxguard::harness {

namespace {

constexpr int64_t kDaySeconds = 86400;

// `value` (case folded) when the schema's enumeration has it, else `fallback`.
std::string oneOf(std::string_view value, std::initializer_list<const char*> allowed,
                  const char* fallback) {
  std::string v = lower(value);
  for (const char* a : allowed)
    if (v == a) return v;
  return fallback;
}

std::string disposition(std::string_view v) {
  return oneOf(v, {"none", "quarantine", "reject"}, "none");
}
std::string aligned(std::string_view v) {
  return oneOf(v, {"pass", "fail"}, "fail");
}
std::string alignment(std::string_view v) {
  return oneOf(v, {"r", "s"}, "r");
}

// A result outside the schema's list is one the evaluation could not classify: an error.
std::string dkimResult(std::string_view v) {
  return oneOf(v, {"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"},
               "permerror");
}
std::string spfResult(std::string_view v) {
  return oneOf(v, {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"},
               "permerror");
}

// The appendix C IPAddress pattern knows dotted IPv4 and the full eight-group IPv6 form only,
// so IPv6 is written uncompressed (still the same address).
std::string sourceIp(const std::string& recorded) {
  auto ip = IpAddress::parse(recorded);
  if (!ip) return recorded;  // escaped on output; not ours to invent an address
  if (ip->isV4()) return ip->toString();
  std::string out;
  const auto& b = ip->bytes();
  for (int i = 0; i < 16; i += 2) {
    char group[8];
    std::snprintf(group, sizeof group, "%s%x", i ? ":" : "", (b[i] << 8) | b[i + 1]);
    out += group;
  }
  return out;
}

int64_t utcSeconds(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::tm check = tm;
  std::time_t t = timegm(&tm);
  // timegm normalises 2026-02-30 to March 2nd: a date that moved was not a date.
  if (tm.tm_mday != check.tm_mday || tm.tm_mon != check.tm_mon || tm.tm_hour != check.tm_hour ||
      tm.tm_min != check.tm_min || tm.tm_sec != check.tm_sec)
    return -1;
  return static_cast<int64_t>(t);
}

// Digits of `text` at [pos, pos + n) as a number, or -1.
int digits(std::string_view text, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

std::optional<int64_t> dateTime(std::string_view t, bool withTime) {
  int year = digits(t, 0, 4), month = digits(t, 5, 2), day = digits(t, 8, 2);
  if (t[4] != '-' || t[7] != '-' || year < 1970 || month < 1 || day < 1) return std::nullopt;
  int hour = 0, minute = 0, second = 0;
  if (withTime) {
    if (t[10] != 'T' || t[13] != ':' || t[16] != ':' || t[19] != 'Z') return std::nullopt;
    hour = digits(t, 11, 2), minute = digits(t, 14, 2), second = digits(t, 17, 2);
    if (hour < 0 || minute < 0 || second < 0) return std::nullopt;
  }
  int64_t s = utcSeconds(year, month, day, hour, minute, second);
  if (s < 0) return std::nullopt;
  return s;
}

// Length of the valid UTF-8 sequence (an XML 1.0 Char) starting at s[i], or 0.
size_t utf8Char(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(i);
  size_t n = b >= 0xC2 && b <= 0xDF   ? 2
             : b >= 0xE0 && b <= 0xEF ? 3
             : b >= 0xF0 && b <= 0xF4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  uint32_t cp = b & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;  // overlong
  if (cp <= 0x9F || cp == 0xFFFE || cp == 0xFFFF) return 0;  // C1 controls; not XML Chars
  return n;
}

void element(std::string& out, int depth, const char* name, std::string_view text) {
  out.append(2 * depth, ' ').append("<").append(name).append(">");
  out.append(xmlText(text)).append("</").append(name).append(">\n");
}
void openTag(std::string& out, int depth, const char* name) {
  out.append(2 * depth, ' ').append("<").append(name).append(">\n");
}
void closeTag(std::string& out, int depth, const char* name) {
  out.append(2 * depth, ' ').append("</").append(name).append(">\n");
}

}  // namespace

std::optional<int64_t> parseUtcTime(std::string_view text) {
  if (text.size() != 20) return std::nullopt;
  return dateTime(text, true);
}

std::optional<int64_t> parseUtcDay(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  return dateTime(text, false);
}

std::string xmlText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t n = utf8Char(text, i);
      if (n) out.append(text.substr(i, n));
      i += n ? n : 1;  // an invalid byte is dropped alone; what follows may be fine
      continue;
    }
    ++i;
    if (c < 0x20 || c == 0x7F) continue;
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += static_cast<char>(c);
    }
  }
  return out;
}

std::string dmarcReportFileName(std::string_view receiverDomain, const DmarcReport& report) {
  // Each part on its own, so a '!' inside one cannot shift the fields of the name.
  auto part = [](std::string_view text) {
    std::string s(text);
    for (char& c : s) {
      bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
      if (!keep) c = '_';
    }
    return s;
  };
  std::string name = part(receiverDomain) + "!" + part(report.policyDomain) + "!" +
                     std::to_string(report.begin) + "!" + std::to_string(report.end);
  if (name[0] == '.') name[0] = '_';  // never a hidden file, never ".."
  return name + ".xml";
}

DmarcReportBuilder::DmarcReportBuilder(DmarcReportOptions options) : options_(std::move(options)) {
  if (options_.day.empty()) return;
  dayBegin_ = parseUtcDay(options_.day);
  if (!dayBegin_) throw std::invalid_argument("'" + options_.day + "' is not a day (YYYY-MM-DD)");
}

DmarcReportBuilder::RowKey DmarcReportBuilder::rowKey(const MessageRecord& r) {
  const DmarcFacts& d = *r.dmarc;
  RowKey k;
  k.sourceIp = sourceIp(r.clientAddress);
  k.disposition = disposition(d.disposition);
  k.dkim = aligned(d.dkimAligned);
  k.spf = aligned(d.spfAligned);
  k.envelopeFrom = d.envelopeFrom;
  k.headerFrom = d.headerFrom;
  for (const auto& o : d.overrides) {
    std::string type = oneOf(
        o.type,
        {"forwarded", "sampled_out", "trusted_forwarder", "mailing_list", "local_policy", "other"},
        "other");
    // An unknown type keeps its name in the comment, where the schema allows any text.
    std::string comment = o.comment;
    if (type != lower(o.type)) comment = o.comment.empty() ? o.type : o.type + ": " + o.comment;
    k.reasons.emplace_back(type, comment);
  }
  for (const auto& a : d.dkim) k.dkimAuth.push_back({a.domain, a.selector, dkimResult(a.result)});
  for (const auto& a : d.spf)
    k.spfAuth.push_back(
        {a.domain, oneOf(a.scope, {"mfrom", "helo"}, "mfrom"), spfResult(a.result)});
  // Appendix C: "There will always be at least one SPF result."
  if (k.spfAuth.empty())
    k.spfAuth.push_back({d.envelopeFrom.empty() ? d.headerFrom : d.envelopeFrom, "mfrom", "none"});
  std::sort(k.dkimAuth.begin(), k.dkimAuth.end());
  std::sort(k.spfAuth.begin(), k.spfAuth.end());
  return k;
}

DmarcRecordUse DmarcReportBuilder::add(const MessageRecord& r) {
  if (!r.dmarc || (r.dmarc->result != "pass" && r.dmarc->result != "fail"))
    return DmarcRecordUse::NoPolicy;
  std::optional<int64_t> when = parseUtcTime(r.time);
  if (!when) return DmarcRecordUse::BadTime;
  if (dayBegin_ && (*when < *dayBegin_ || *when >= *dayBegin_ + kDaySeconds))
    return DmarcRecordUse::OtherDay;
  auto [it, fresh] = domains_.try_emplace(lower(r.dmarc->policyDomain));
  Domain& d = it->second;
  if (fresh) d.first = d.last = *when;
  d.first = std::min(d.first, *when);
  d.last = std::max(d.last, *when);
  if (fresh || *when >= d.policyTime) {  // the latest record's policy; the later line on a tie
    d.policy = *r.dmarc;
    d.policyTime = *when;
  }
  ++d.rows[rowKey(r)];
  return DmarcRecordUse::Counted;
}

std::vector<DmarcReport> DmarcReportBuilder::reports() const {
  std::vector<DmarcReport> out;
  for (const auto& [domain, d] : domains_) {
    DmarcReport r;
    r.policyDomain = domain;
    r.begin = dayBegin_ ? *dayBegin_ : d.first;
    r.end = dayBegin_ ? *dayBegin_ + kDaySeconds - 1 : d.last;
    r.xml = document(domain, d, r.begin, r.end);
    out.push_back(std::move(r));
  }
  return out;
}

std::string DmarcReportBuilder::document(const std::string& domain, const Domain& d, int64_t begin,
                                         int64_t end) const {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n";
  element(x, 1, "version", "1.0");
  openTag(x, 1, "report_metadata");
  element(x, 2, "org_name", options_.orgName);
  element(x, 2, "email", options_.email);
  if (!options_.extraContactInfo.empty())
    element(x, 2, "extra_contact_info", options_.extraContactInfo);
  // Deterministic and unique per domain and range: a rerun over the same day gives the same id.
  element(x, 2, "report_id", domain + "-" + std::to_string(begin) + "-" + std::to_string(end));
  openTag(x, 2, "date_range");
  element(x, 3, "begin", std::to_string(begin));
  element(x, 3, "end", std::to_string(end));
  closeTag(x, 2, "date_range");
  closeTag(x, 1, "report_metadata");
  const DmarcFacts& p = d.policy;
  openTag(x, 1, "policy_published");
  element(x, 2, "domain", domain);
  element(x, 2, "adkim", alignment(p.adkim));
  element(x, 2, "aspf", alignment(p.aspf));
  element(x, 2, "p", disposition(p.p));
  element(x, 2, "sp", disposition(p.sp.empty() ? p.p : p.sp));  // RFC 7489 6.3: sp defaults to p
  element(x, 2, "pct", std::to_string(std::clamp(p.pct, 0, 100)));
  element(x, 2, "fo", p.fo.empty() ? "0" : p.fo);
  closeTag(x, 1, "policy_published");
  for (const auto& [k, count] : d.rows) writeRecord(x, k, count);
  return x + "</feedback>\n";
}

void DmarcReportBuilder::writeRecord(std::string& x, const RowKey& k, size_t count) {
  openTag(x, 1, "record");
  openTag(x, 2, "row");
  element(x, 3, "source_ip", k.sourceIp);
  element(x, 3, "count", std::to_string(count));
  openTag(x, 3, "policy_evaluated");
  element(x, 4, "disposition", k.disposition);
  element(x, 4, "dkim", k.dkim);
  element(x, 4, "spf", k.spf);
  for (const auto& [type, comment] : k.reasons) {
    openTag(x, 4, "reason");
    element(x, 5, "type", type);
    if (!comment.empty()) element(x, 5, "comment", comment);
    closeTag(x, 4, "reason");
  }
  closeTag(x, 3, "policy_evaluated");
  closeTag(x, 2, "row");
  openTag(x, 2, "identifiers");
  element(x, 3, "envelope_from", k.envelopeFrom);  // required by appendix C; empty for <>
  element(x, 3, "header_from", k.headerFrom);
  closeTag(x, 2, "identifiers");
  openTag(x, 2, "auth_results");
  for (const auto& [dom, selector, result] : k.dkimAuth) {
    openTag(x, 3, "dkim");
    element(x, 4, "domain", dom);
    if (!selector.empty()) element(x, 4, "selector", selector);
    element(x, 4, "result", result);
    closeTag(x, 3, "dkim");
  }
  for (const auto& [dom, scope, result] : k.spfAuth) {
    openTag(x, 3, "spf");
    element(x, 4, "domain", dom);
    element(x, 4, "scope", scope);
    element(x, 4, "result", result);
    closeTag(x, 3, "spf");
  }
  closeTag(x, 2, "auth_results");
  closeTag(x, 1, "record");
}

}  // namespace mxguard::harness
