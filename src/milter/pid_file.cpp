// pid_file.cpp - the pid file: refused when a link or a non-file is in its place; otherwise the
// old one removed and a new one created exclusively (O_CREAT | O_EXCL never follows a link).
// Must not: truncate an existing file (a hard link would let that truncate another file).
#include "milter/pid_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mxguard::milter {

bool writePidFile(const std::string& path, std::string* error) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      *error = "pid file " + path +
               " is a symbolic link; refusing to follow it (remove it if you put it there)";
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      *error = "pid file " + path + " exists and is not a regular file; refusing to replace it";
      return false;
    }
    // A stale pid file, possibly root's from an older start: replaced, never written through.
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      *error = "cannot replace the pid file " + path + ": " + std::strerror(errno);
      return false;
    }
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot create the pid file " + path + ": " + std::strerror(errno) +
             (errno == EEXIST ? " (something was put there meanwhile)" : "") +
             (errno == EACCES ? " (it must be in a directory the daemon's user can write, "
                                "e.g. /run/mxguard/)"
                              : "");
    return false;
  }
  std::string text = std::to_string(getpid()) + "\n";
  bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (!written) *error = "cannot write the pid file " + path + ": " + std::strerror(errno);
  close(fd);
  return written;
}

}  // namespace mxguard::milter
