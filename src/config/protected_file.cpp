// protected_file.cpp - one open, fstat and read loop for every file whose writer steers the
// daemon, so the policy and the maps it names are refused for the same reasons in the same words.
// Must not: read past the cap (the file may grow while it is read), or follow st_size blindly.
#include "config/protected_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/config_error.h"

namespace mxguard::config {
namespace {

const char* kindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

// Whoever can write the policy sets callout ports and allow_private, and whoever can write a map
// lets mail through, so a file others may change is refused, as sshd refuses such an
// authorized_keys (a directory's permissions are not checked).
void checkFile(const std::string& path, const struct stat& st, std::string_view what) {
  if (!S_ISREG(st.st_mode))
    throw ConfigError(path, 0, "",
                      std::string("not a regular file (") + kindOf(st.st_mode) +
                          "); give the path of " + std::string(what));
  if (mode_t w = st.st_mode & (S_IWGRP | S_IWOTH); w != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    std::string who = w == (S_IWGRP | S_IWOTH) ? "group and others"
                      : w == S_IWGRP           ? "group"
                                               : "others";
    throw ConfigError(path, 0, "",
                      std::string("mode ") + mode + " lets " + who +
                          " change this file, which decides what mxguard does with mail; run: "
                          "chmod go-w " +
                          path);
  }
}

[[noreturn]] void tooLarge(const std::string& path, size_t size, size_t maxBytes,
                           std::string_view what) {
  throw ConfigError(path, 0, "",
                    std::to_string(size) + " bytes, larger than the " + std::to_string(maxBytes) +
                        " " + std::string(what) + " may have");
}

}  // namespace

std::string readProtectedFile(const std::string& path, size_t maxBytes, std::string_view what) {
  // O_NONBLOCK: a FIFO must not hang the start before fstat can refuse it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) throw ConfigError(path, 0, "", std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  try {
    struct stat st {};
    if (fstat(fd, &st) != 0)
      throw ConfigError(path, 0, "", std::string("cannot stat: ") + std::strerror(errno));
    checkFile(path, st, what);
    size_t size = static_cast<size_t>(st.st_size);
    if (size > maxBytes) tooLarge(path, size, maxBytes, what);
    // Reserved once: a map of hundreds of megabytes must not be copied at each doubling.
    text.reserve(size + 1);
    // Read to the cap, not to st_size: the file may grow while it is read.
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw ConfigError(path, 0, "", std::string("cannot read: ") + std::strerror(errno));
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > maxBytes) tooLarge(path, text.size(), maxBytes, what);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return text;
}

}  // namespace mxguard::config
