// value_parsers.cpp - strict parsing: "5 s", "5sec", "1e3" are errors, not guesses.
// Must not: accept trailing garbage.
#include "config/value_parsers.h"

#include <algorithm>
#include <cctype>
#include <climits>

#include "base/strings.h"

namespace mxguard::config {
namespace {
std::string shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 60))
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}
}  // namespace

std::optional<bool> parseBool(std::string_view text, std::string* error) {
  std::string v = lower(text);
  if (v == "yes" || v == "true" || v == "on" || v == "1") return true;
  if (v == "no" || v == "false" || v == "off" || v == "0") return false;
  if (error) *error = "invalid boolean '" + shown(text) + "' (use yes or no)";
  return std::nullopt;
}

std::optional<long> parseInt(std::string_view text, std::string* error) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
  if (i == text.size()) {
    if (error) *error = "invalid number '" + shown(text) + "'";
    return std::nullopt;
  }
  long value = 0;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])) || value > (LONG_MAX - 9) / 10) {
      if (error) *error = "invalid number '" + shown(text) + "'";
      return std::nullopt;
    }
    value = value * 10 + (text[i] - '0');
  }
  return negative ? -value : value;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text, std::string* error) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::string unit = lower(text.substr(digits));
  long multiplier = unit.empty() || unit == "s" ? 1000
                    : unit == "ms"              ? 1
                    : unit == "m"               ? 60000
                    : unit == "h"               ? 3600000
                    : unit == "d"               ? 86400000
                                                : -1;
  if (digits == 0 || digits > 9 || multiplier < 0) {
    if (error) *error = "invalid duration '" + shown(text) + "' (use e.g. 500ms, 5s, 2m)";
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::stol(std::string(text.substr(0, digits))) * multiplier);
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',') {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

namespace {
// A duration in the largest unit that shows it whole: 600000 -> "10m", 1500 -> "1500ms".
std::string wholeDuration(long ms) {
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}
}  // namespace

bool checkBounds(long value, long min, long max, const char* unit, std::string* error) {
  if (min == 0 && max == 0) return true;
  auto shown = [unit](long v) {
    return std::string_view(unit) == "ms" ? wholeDuration(v) : std::to_string(v) + unit;
  };
  if (value < min) {
    if (error) *error = "value " + shown(value) + " is below the minimum " + shown(min);
    return false;
  }
  if (max != 0 && value > max) {
    if (error) *error = "value " + shown(value) + " is above the maximum " + shown(max);
    return false;
  }
  return true;
}

}  // namespace mxguard::config
