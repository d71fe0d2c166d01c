// version.h - mxguard's version, as project(VERSION) in CMakeLists.txt spells it: --version, the
// startup log line and the mxguard_build_info metric all read it here.
// Must not: be spelt anywhere else in src/ (a second copy goes stale at the next release).
#pragma once

#include <string_view>

namespace mxguard {

std::string_view version();  // "0.1.0"

}  // namespace mxguard
