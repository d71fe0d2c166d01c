// protected_file.h - reads a file that decides what mxguard does with mail (the policy, a map),
// refusing one that others may change, that is not a regular file, or that is over a size cap.
// Must not: parse the text, or open anything in a way that can block (a FIFO, a device).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mxguard::config {

// The whole file, or ConfigError(path, 0, "", why): cannot open/stat/read (with strerror), not a
// regular file ("give the path of " + what), writable by group or others ("run: chmod go-w PATH"),
// or larger than maxBytes. `what` names the file in those messages: "a configuration file",
// "a map file".
std::string readProtectedFile(const std::string& path, size_t maxBytes, std::string_view what);

}  // namespace mxguard::config
