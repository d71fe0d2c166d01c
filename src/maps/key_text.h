// key_text.h - how a key or line from a map file is quoted in an error message: at most 80 bytes,
// control bytes as '?', UTF-8 kept (an IDN key must read as the admin wrote it).
// Must not: be used on text from the network (it is for the admin's own file).
#pragma once

#include <string>
#include <string_view>

namespace mxguard::maps {

std::string shownKey(std::string_view key);

}  // namespace mxguard::maps
