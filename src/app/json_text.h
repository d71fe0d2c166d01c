// json_text.h - the one way mxguard writes JSON text (the transaction log, mxguard-check --json):
// nlohmann::json's escaper, compact, UTF-8 kept as it is and invalid UTF-8 replaced by U+FFFD,
// so the record file and the harness agree on every byte above 0x7F.
// Must not: throw on outside bytes (dump()'s default, error_handler_t::strict, would).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mxguard::app {

// For nlohmann::json (sorted keys) and nlohmann::ordered_json (keys as written) alike.
template <class Json>
std::string dumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace mxguard::app
