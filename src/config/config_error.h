// config_error.h - the one error type of configuration loading: names file, line and option.
// Must not: be thrown after load (the data plane returns values, never throws).
#pragma once

#include <stdexcept>
#include <string>

namespace mxguard::config {

constexpr int kExitConfig = 78;  // EX_CONFIG from sysexits.h
constexpr int kExitUsage = 64;   // EX_USAGE

struct ConfigError : std::runtime_error {
  // what(): "FILE:LINE: OPTION: MESSAGE" (":LINE" left out when 0, "OPTION: " when empty)
  ConfigError(std::string file, int line, std::string option, std::string message);
  std::string file;
  int line;
  std::string option;  // "rbl.zone", "engine.stages"
  std::string message;
};

}  // namespace mxguard::config
