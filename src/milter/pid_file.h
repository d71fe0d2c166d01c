// pid_file.h - writes and removes the daemon's pid file, as the user the daemon serves as.
// Must not: follow a symbolic link or write into a file that was there before (a link planted in
// the service user's directory would make a root-started daemon overwrite any file).
#pragma once

#include <string>

namespace mxguard::milter {

// Replaces `path` with a new file holding the pid. A symbolic link, or anything but a regular
// file, at `path` is refused: false with *error naming it.
bool writePidFile(const std::string& path, std::string* error);

}  // namespace mxguard::milter
