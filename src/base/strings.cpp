// strings.cpp - byte loops written out: std::tolower and std::isspace follow the C locale, and a
// library that calls setlocale() must not change how mxguard compares names.
// Must not: allocate more than the one result string.
#include "base/strings.h"

#include <algorithm>

namespace mxguard {
namespace {

char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool isAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerAscii(c);
  return out;
}

std::string canonicalHostName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return lower(name);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  return true;
}

std::string trim(std::string_view s) {
  while (!s.empty() && isAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isAsciiSpace(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string trimLineEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::vector<std::string> splitFields(std::string_view s, char separator) {
  std::vector<std::string> fields;
  while (true) {
    size_t at = s.find(separator);
    fields.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) return fields;
    s.remove_prefix(at + 1);
  }
}

std::string humanDuration(std::chrono::milliseconds ms) {
  long long s = std::max<long long>(1, (ms.count() + 999) / 1000);
  auto unit = [](long long n, const char* name) {
    return std::to_string(n) + " " + name + (n == 1 ? "" : "s");
  };
  if (s < 120) return unit(s, "second");
  if (s < 7200) return unit((s + 59) / 60, "minute");
  return unit((s + 3599) / 3600, "hour");
}

}  // namespace mxguard
