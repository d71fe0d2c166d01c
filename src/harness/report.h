// report.h - prints an Outcome as the client would see the dialogue plus the per-stage trace,
// or as one JSON object (--json) for scripts and golden tests.
// Must not: change the outcome; exit codes are decided in main from Outcome::action.
#pragma once

#include <string>
#include <string_view>

#include "harness/dialogue.h"

namespace mxguard::harness {

std::string formatText(const Outcome& outcome);
// What the text output prints of any outside text (a remote server's reply, a trace detail):
// C0 controls but TAB, DEL, C1 controls and invalid UTF-8 become '?', so ESC, OSC and BEL
// cannot drive the terminal; valid UTF-8 stays.
std::string terminalText(std::string_view outside);
std::string formatJson(const Outcome& outcome);

}  // namespace mxguard::harness
