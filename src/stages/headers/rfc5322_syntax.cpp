// rfc5322_syntax.cpp - small hand-written scanners: comments are removed first (nesting depth
// capped), then the remaining tokens are checked. Lenient where the obsolete syntax of section 4
// allows (two-digit years, named zones, missing seconds, extra whitespace), strict elsewhere.
// Must not: accept a date whose fields are out of range (Feb 30, 25:00, zone +9999).
#include "stages/headers/rfc5322_syntax.h"

#include <cctype>
#include <ctime>
#include <vector>

namespace mxguard::stages {
namespace {

constexpr int kMaxCommentDepth = 20;

// Replaces comments with a space, honouring quoted strings and quoted-pairs; nullopt when
// unbalanced or nested too deep.
std::optional<std::string> stripComments(std::string_view v, std::string* problem) {
  std::string out;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size() && (quoted || depth > 0)) {
      if (depth == 0) {
        out += c;
        out += v[i + 1];
      }
      ++i;
      continue;
    }
    if (depth == 0 && c == '"') quoted = !quoted;
    if (!quoted && c == '(') {
      if (++depth > kMaxCommentDepth) {
        *problem = "comments nested too deeply";
        return std::nullopt;
      }
      continue;
    }
    if (!quoted && c == ')') {
      if (depth == 0) {
        *problem = "unbalanced ')'";
        return std::nullopt;
      }
      if (--depth == 0) out += ' ';
      continue;
    }
    if (depth == 0) out += c;
  }
  if (depth > 0) {
    *problem = "unterminated comment";
    return std::nullopt;
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

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
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

std::string trimmed(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// addr-spec = local-part "@" domain (obsolete CFWS around the dots is not accepted).
bool isAddrSpec(std::string_view s, bool allowUtf8) {
  std::string a = trimmed(s);
  size_t at = a.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.size()) return false;
  std::string_view local(a.data(), at), domain(a.data() + at + 1, a.size() - at - 1);
  bool localOk = isDotAtom(local, allowUtf8) || isQuotedString(local);
  bool domainOk = isDotAtom(domain, allowUtf8) ||
                  (domain.size() > 2 && domain.front() == '[' && domain.back() == ']');
  return localOk && domainOk;
}

}  // namespace

std::optional<int64_t> parseRfc5322Date(std::string_view value, std::string* problem) {
  auto clean = stripComments(value, problem);
  if (!clean) return std::nullopt;
  auto w = words(*clean);
  size_t i = 0;
  static const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  static const char* months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (i < w.size() && !allDigits(w[i])) {
    std::string d = lower(w[i]);
    bool known = false;
    for (const char* day : days) known = known || d == day;
    if (!known) {
      *problem = "unknown day name '" + w[i] + "'";
      return std::nullopt;
    }
    ++i;
    if (i < w.size() && w[i] == ",") ++i;
  }
  auto need = [&](const char* what) {
    if (i >= w.size()) {
      *problem = std::string("missing ") + what;
      return false;
    }
    return true;
  };
  if (!need("day") || !allDigits(w[i]) || w[i].size() > 2) {
    if (problem->empty()) *problem = "invalid day '" + (i < w.size() ? w[i] : "") + "'";
    return std::nullopt;
  }
  int day = std::stoi(w[i++]);
  if (!need("month")) return std::nullopt;
  int month = -1;
  for (int m = 0; m < 12; ++m)
    if (lower(w[i]) == months[m]) month = m;
  if (month < 0) {
    *problem = "unknown month '" + w[i] + "'";
    return std::nullopt;
  }
  ++i;
  if (!need("year") || !allDigits(w[i]) || w[i].size() < 2 || w[i].size() > 4) {
    if (problem->empty()) *problem = "invalid year '" + w[i] + "'";
    return std::nullopt;
  }
  int year = std::stoi(w[i]);
  if (w[i].size() == 2)
    year += year < 50 ? 2000 : 1900;  // section 4.3
  else if (w[i].size() == 3)
    year += 1900;
  ++i;
  if (!need("time")) return std::nullopt;
  // hh:mm[:ss], possibly split by whitespace in obsolete forms ("12 : 30") - rejoin.
  std::string time = w[i++];
  while (i < w.size() && (time.back() == ':' || w[i].front() == ':')) time += w[i++];
  int hh = -1, mm = -1, ss = 0;
  {
    std::vector<std::string> parts;
    size_t s = 0;
    while (true) {
      size_t c = time.find(':', s);
      parts.push_back(time.substr(s, c == std::string::npos ? std::string::npos : c - s));
      if (c == std::string::npos) break;
      s = c + 1;
    }
    bool ok = (parts.size() == 2 || parts.size() == 3);
    for (const auto& p : parts) ok = ok && allDigits(p) && p.size() <= 2;
    if (!ok) {
      *problem = "invalid time '" + time + "'";
      return std::nullopt;
    }
    hh = std::stoi(parts[0]);
    mm = std::stoi(parts[1]);
    if (parts.size() == 3) ss = std::stoi(parts[2]);
  }
  if (!need("time zone")) return std::nullopt;
  auto zone = zoneOffset(w[i]);
  if (!zone) {
    *problem = "invalid time zone '" + w[i] + "'";
    return std::nullopt;
  }
  ++i;
  if (i != w.size()) {
    *problem = "unexpected '" + w[i] + "' after the time zone";
    return std::nullopt;
  }
  static const int daysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  int maxDay = month == 1 && !leap ? 28 : daysIn[month];
  if (year < 1900 || day < 1 || day > maxDay || hh > 23 || mm > 59 || ss > 60) {
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
  return static_cast<int64_t>(timegm(&tm)) - static_cast<int64_t>(*zone) * 60;
}

bool isMsgId(std::string_view value, std::string* problem) {
  auto clean = stripComments(value, problem);
  if (!clean) return false;
  std::string v = trimmed(*clean);
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
    std::string item = trimmed(raw);
    if (item.empty()) continue;  // obs-mbox-list allows empty elements
    size_t lt = item.find('<');
    if (lt != std::string::npos) {
      size_t gt = item.rfind('>');
      if (gt == std::string::npos || gt < lt || trimmed(item.substr(gt + 1)) != "") {
        *problem = "unbalanced <> in '" + item + "'";
        return false;
      }
      std::string display = trimmed(item.substr(0, lt));
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
