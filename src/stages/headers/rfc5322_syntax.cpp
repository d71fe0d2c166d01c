// rfc5322_syntax.cpp - small hand-written scanners: comments are removed first (nesting depth
// capped), then the remaining tokens are checked. Lenient where the obsolete syntax of section 4
// allows (two-digit years, named zones, missing seconds, extra whitespace), strict elsewhere.
// Must not: accept a date whose fields are out of range (Feb 30, 25:00, zone +9999).
#include "stages/headers/rfc5322_syntax.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <vector>

#include "base/strings.h"
#include "core/rfc5322_comment.h"

namespace mxguard::stages {
namespace {

constexpr int kMaxCommentDepth = 20;

// Replaces comments with a space, honouring quoted strings and quoted-pairs; nullopt when
// unbalanced or nested too deep.
std::optional<std::string> stripComments(std::string_view v, std::string* problem) {
  std::string out;
  bool quoted = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted && c == '\\' && i + 1 < v.size()) {
      out += c;
      out += v[++i];
      continue;
    }
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '(') {
      CommentScan comment = scanComment(v, i, kMaxCommentDepth);
      if (comment.status != CommentScan::Status::Closed) {
        *problem = comment.status == CommentScan::Status::TooDeep ? "comments nested too deeply"
                                                                  : "unterminated comment";
        return std::nullopt;
      }
      out += ' ';
      i = comment.end - 1;
      continue;
    } else if (!quoted && c == ')') {
      *problem = "unbalanced ')'";
      return std::nullopt;
    }
    out += c;
  }
  if (quoted) {
    *problem = "unterminated quoted string";
    return std::nullopt;
  }
  return out;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
      if (c == ',') out.push_back(",");
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

bool allDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Zone offset in minutes, or nullopt. Obsolete named zones per section 4.3; military letters
// are "-0000" (unknown) as the RFC says they were used inconsistently.
std::optional<int> zoneOffset(const std::string& z) {
  if (z.size() == 5 && (z[0] == '+' || z[0] == '-') && allDigits(z.substr(1))) {
    int hh = std::stoi(z.substr(1, 2)), mm = std::stoi(z.substr(3, 2));
    if (hh > 99 || mm > 59) return std::nullopt;
    int off = hh * 60 + mm;
    return z[0] == '-' ? -off : off;
  }
  std::string n = lower(z);
  if (n == "ut" || n == "gmt" || n == "z") return 0;
  if (n == "est") return -300;
  if (n == "edt") return -240;
  if (n == "cst") return -360;
  if (n == "cdt") return -300;
  if (n == "mst") return -420;
  if (n == "mdt") return -360;
  if (n == "pst") return -480;
  if (n == "pdt") return -420;
  if (n.size() == 1 && std::isalpha(static_cast<unsigned char>(n[0])) && n != "j") return 0;
  return std::nullopt;
}

bool isAtext(unsigned char c, bool allowUtf8) {
  if (std::isalnum(c)) return true;
  if (c >= 0x80) return allowUtf8;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

bool isDotAtom(std::string_view s, bool allowUtf8) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return false;
      continue;
    }
    if (!isAtext(static_cast<unsigned char>(s[i]), allowUtf8)) return false;
  }
  return true;
}

bool isQuotedString(std::string_view s) {
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return false;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == '"') return false;
  }
  return true;
}

// addr-spec = local-part "@" domain (obsolete CFWS around the dots is not accepted).
bool isAddrSpec(std::string_view s, bool allowUtf8) {
  std::string a = trim(s);
  size_t at = a.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.size()) return false;
  std::string_view local(a.data(), at), domain(a.data() + at + 1, a.size() - at - 1);
  bool localOk = isDotAtom(local, allowUtf8) || isQuotedString(local);
  bool domainOk = isDotAtom(domain, allowUtf8) ||
                  (domain.size() > 2 && domain.front() == '[' && domain.back() == ']');
  return localOk && domainOk;
}

}  // namespace

namespace {

// A date-time's words, read left to right (section 3.3, with the obsolete forms of 4.3). Each
// step reads its field, or sets *problem and returns false.
class DateReader {
 public:
  DateReader(std::vector<std::string> words, std::string* problem)
      : w_(std::move(words)), problem_(problem) {}

  bool dayOfWeek() {  // optional: "Mon," or "Mon"
    static const char* kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    if (i_ >= w_.size() || allDigits(w_[i_])) return true;
    std::string d = lower(w_[i_]);
    if (std::find(std::begin(kDays), std::end(kDays), d) == std::end(kDays))
      return fail("unknown day name '" + w_[i_] + "'");
    ++i_;
    if (i_ < w_.size() && w_[i_] == ",") ++i_;
    return true;
  }

  bool day(int& out) {
    if (!need("day") || !allDigits(w_[i_]) || w_[i_].size() > 2) {
      if (problem_->empty()) *problem_ = "invalid day '" + (i_ < w_.size() ? w_[i_] : "") + "'";
      return false;
    }
    out = std::stoi(w_[i_++]);
    return true;
  }

  bool month(int& out) {  // 0 = January
    static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                    "jul", "aug", "sep", "oct", "nov", "dec"};
    if (!need("month")) return false;
    out = -1;
    for (int m = 0; m < 12; ++m)
      if (lower(w_[i_]) == kMonths[m]) out = m;
    if (out < 0) return fail("unknown month '" + w_[i_] + "'");
    ++i_;
    return true;
  }

  bool year(int& out) {
    if (!need("year") || !allDigits(w_[i_]) || w_[i_].size() < 2 || w_[i_].size() > 4) {
      if (problem_->empty()) *problem_ = "invalid year '" + w_[i_] + "'";
      return false;
    }
    out = std::stoi(w_[i_]);
    if (w_[i_].size() == 2)
      out += out < 50 ? 2000 : 1900;  // section 4.3
    else if (w_[i_].size() == 3)
      out += 1900;
    ++i_;
    return true;
  }

  bool time(int& hh, int& mm, int& ss) {
    if (!need("time")) return false;
    // hh:mm[:ss], possibly split by whitespace in obsolete forms ("12 : 30") - rejoin.
    std::string time = w_[i_++];
    while (i_ < w_.size() && (time.back() == ':' || w_[i_].front() == ':')) time += w_[i_++];
    std::vector<std::string> parts = splitFields(time, ':');
    bool ok = (parts.size() == 2 || parts.size() == 3);
    for (const auto& p : parts) ok = ok && allDigits(p) && p.size() <= 2;
    if (!ok) return fail("invalid time '" + time + "'");
    hh = std::stoi(parts[0]);
    mm = std::stoi(parts[1]);
    if (parts.size() == 3) ss = std::stoi(parts[2]);
    return true;
  }

  bool zone(int& minutes) {
    if (!need("time zone")) return false;
    auto z = zoneOffset(w_[i_]);
    if (!z) return fail("invalid time zone '" + w_[i_] + "'");
    minutes = *z;
    ++i_;
    return true;
  }

  bool end() {
    if (i_ != w_.size()) return fail("unexpected '" + w_[i_] + "' after the time zone");
    return true;
  }

 private:
  bool fail(std::string why) {
    *problem_ = std::move(why);
    return false;
  }
  bool need(const char* what) { return i_ < w_.size() || fail(std::string("missing ") + what); }

  std::vector<std::string> w_;
  size_t i_ = 0;
  std::string* problem_;
};

bool inRange(int year, int month, int day, int hh, int mm, int ss) {
  static const int daysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int maxDay = month == 1 && !leap ? 28 : daysIn[month];
  return year >= 1900 && day >= 1 && day <= maxDay && hh <= 23 && mm <= 59 && ss <= 60;
}

}  // namespace

std::optional<int64_t> parseRfc5322Date(std::string_view value, std::string* problem) {
  auto clean = stripComments(value, problem);
  if (!clean) return std::nullopt;
  DateReader r(words(*clean), problem);
  int day = 0, month = 0, year = 0, hh = -1, mm = -1, ss = 0, zone = 0;
  if (!r.dayOfWeek() || !r.day(day) || !r.month(month) || !r.year(year) || !r.time(hh, mm, ss) ||
      !r.zone(zone) || !r.end())
    return std::nullopt;
  if (!inRange(year, month, day, hh, mm, ss)) {
    *problem = "date or time out of range";
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month;
  tm.tm_mday = day;
  tm.tm_hour = hh;
  tm.tm_min = mm;
  tm.tm_sec = ss;
  return static_cast<int64_t>(timegm(&tm)) - static_cast<int64_t>(zone) * 60;
}

bool isMsgId(std::string_view value, std::string* problem) {
  auto clean = stripComments(value, problem);
  if (!clean) return false;
  std::string v = trim(*clean);
  if (v.size() < 5 || v.front() != '<' || v.back() != '>') {
    *problem = "not enclosed in <>";
    return false;
  }
  std::string inner = v.substr(1, v.size() - 2);
  size_t at = inner.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == inner.size()) {
    *problem = "no '@' between two parts";
    return false;
  }
  std::string_view left(inner.data(), at), right(inner.data() + at + 1, inner.size() - at - 1);
  bool leftOk = isDotAtom(left, false) || isQuotedString(left);
  bool rightOk =
      isDotAtom(right, false) || (right.size() > 2 && right.front() == '[' && right.back() == ']');
  if (!leftOk || !rightOk) {
    *problem = "invalid characters";
    return false;
  }
  return true;
}

bool isMailboxList(std::string_view value, bool allowUtf8, std::string* problem) {
  auto clean = stripComments(value, problem);
  if (!clean) return false;
  // Split at top-level commas (not inside quotes or <>).
  std::vector<std::string> items;
  std::string cur;
  bool quoted = false;
  int angle = 0;
  for (size_t i = 0; i < clean->size(); ++i) {
    char c = (*clean)[i];
    if (c == '\\' && quoted && i + 1 < clean->size()) {
      cur += c;
      cur += (*clean)[++i];
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '<') ++angle;
    if (!quoted && c == '>') --angle;
    if (!quoted && angle == 0 && c == ',') {
      items.push_back(cur);
      cur.clear();
      continue;
    }
    cur += c;
  }
  items.push_back(cur);
  size_t mailboxes = 0;
  for (const auto& raw : items) {
    std::string item = trim(raw);
    if (item.empty()) continue;  // obs-mbox-list allows empty elements
    size_t lt = item.find('<');
    if (lt != std::string::npos) {
      size_t gt = item.rfind('>');
      if (gt == std::string::npos || gt < lt || trim(item.substr(gt + 1)) != "") {
        *problem = "unbalanced <> in '" + item + "'";
        return false;
      }
      std::string display = trim(item.substr(0, lt));
      for (unsigned char c : display)
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !allowUtf8)) {
          *problem = "invalid character in the display name";
          return false;
        }
      if (!isAddrSpec(item.substr(lt + 1, gt - lt - 1), allowUtf8)) {
        *problem = "invalid address '" + item.substr(lt + 1, gt - lt - 1) + "'";
        return false;
      }
    } else if (!isAddrSpec(item, allowUtf8)) {
      *problem = "invalid address '" + item + "'";
      return false;
    }
    ++mailboxes;
  }
  if (mailboxes == 0) {
    *problem = "no address";
    return false;
  }
  return true;
}

}  // namespace mxguard::stages
