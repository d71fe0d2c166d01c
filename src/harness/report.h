// report.h - prints an Outcome as the client would see the dialogue plus the per-stage trace,
// or as one JSON object (--json) for scripts and golden tests.
// Must not: change the outcome; exit codes are decided in main from Outcome::action.
#pragma once

#include <string>

#include "harness/dialogue.h"

namespace mxguard::harness {

std::string formatText(const Outcome& outcome);
std::string formatJson(const Outcome& outcome);

}  // namespace mxguard::harness
