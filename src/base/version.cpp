// version.cpp - the one translation unit CMake gives MXGUARD_VERSION (a source property), so a
// version bump recompiles this file only.
// Must not: fall back to a made-up version: a build without the define fails here.
#include "base/version.h"

#ifndef MXGUARD_VERSION
#error "MXGUARD_VERSION comes from project(VERSION) in CMakeLists.txt"
#endif

namespace mxguard {

std::string_view version() {
  return MXGUARD_VERSION;
}

}  // namespace mxguard
