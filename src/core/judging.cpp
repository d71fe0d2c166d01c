// judging.cpp - a class's overrides, looked up by "stage.check" and stage name.
// Must not: allocate on the common path beyond the one key it builds.
#include "core/judging.h"

namespace mxguard {
namespace {

std::string qualified(std::string_view stage, std::string_view check) {
  std::string key(stage);
  key += '.';
  key += check;
  return key;
}

}  // namespace

CheckMode Judging::checkMode(std::string_view stage, std::string_view check,
                             CheckMode reported) const {
  if (check.empty() || checkModes.empty()) return reported;
  auto it = checkModes.find(qualified(stage, check));
  return it == checkModes.end() ? reported : it->second;
}

StageMode Judging::stageMode(std::string_view stage, StageMode policy) const {
  auto it = stageModes.find(stage);
  return it == stageModes.end() ? policy : it->second;
}

FailureMode Judging::failureMode(std::string_view stage, FailureMode policy) const {
  auto it = onFailure.find(stage);
  return it == onFailure.end() ? policy : it->second;
}

bool Judging::skips(std::string_view stage, std::string_view check) const {
  if (skip.empty()) return false;
  if (skip.find(stage) != skip.end()) return true;
  return !check.empty() && skip.find(qualified(stage, check)) != skip.end();
}

}  // namespace mxguard
