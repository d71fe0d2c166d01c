// host_name_syntax.h - RFC 5321 Domain syntax for HELO names, naming exactly what is wrong.
// Must not: resolve anything or accept address literals (the helo stage handles those).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mxguard::stages {

// nullopt when `name` (one trailing dot allowed) is a syntactically valid host name; else the
// problem, e.g. "character '_' is not allowed in a host name", "empty label".
std::optional<std::string> hostNameProblem(std::string_view name);

}  // namespace mxguard::stages
