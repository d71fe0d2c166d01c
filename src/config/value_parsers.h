// value_parsers.h - text to typed values for config options (bool, int, duration, list), each
// returning nullopt with an admin-readable error.
// Must not: throw; the caller decides which file/line/option the error belongs to.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxguard::config {

std::optional<bool> parseBool(std::string_view text, std::string* error);
std::optional<long> parseInt(std::string_view text, std::string* error);
// "250ms", "5s", "2m", "1h", "7d"; a bare number is seconds.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text, std::string* error);
std::vector<std::string> splitList(std::string_view text);  // whitespace and/or commas
// min/max 0 = unbounded on that side only when both are 0.
bool checkBounds(long value, long min, long max, const char* unit, std::string* error);

}  // namespace mxguard::config
