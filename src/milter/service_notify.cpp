// service_notify.cpp - the sd_notify datagram protocol, written out (one sendto on an AF_UNIX
// datagram socket) instead of linking libsystemd: the protocol is documented as stable, and
// libsystemd would bring liblzma, libzstd, liblz4 and libgcrypt into a daemon that parses mail.
// Must not: unset or cache $NOTIFY_SOCKET (every notification reads it), or send from a signal
// handler.
#include "milter/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "base/log.h"

namespace mxguard::milter {

bool sendServiceNotification(std::string_view assignments) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || *env == '\0') return false;
  std::string path(env);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // An abstract socket ("@name") has no terminating NUL: its length is exactly the name's.
  if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof addr.sun_path) {
    logMessage(LogLevel::Warning,
               "NOTIFY_SOCKET '" + path + "' is not a unix socket path or @name; not notifying");
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                    (path[0] == '/' ? 1 : 0));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    logMessage(LogLevel::Warning,
               std::string("cannot notify the service manager: socket: ") + std::strerror(errno));
    return false;
  }
  ssize_t sent = sendto(fd, assignments.data(), assignments.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&addr), len);
  int saved = errno;
  close(fd);
  if (sent != static_cast<ssize_t>(assignments.size())) {
    logMessage(LogLevel::Warning, "cannot notify the service manager at " + path + ": " +
                                      (sent < 0 ? std::strerror(saved) : "short write"));
    return false;
  }
  return true;
}

std::string statusValue(std::string_view text) {
  constexpr size_t kMaxStatus = 1024;
  std::string out(text.substr(0, kMaxStatus));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  return out;
}

void notifyReady(std::string_view status) {
  sendServiceNotification("READY=1\nSTATUS=" + statusValue(status));
}

void notifyReloading(std::string_view status) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  sendServiceNotification("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) +
                          "\nSTATUS=" + statusValue(status));
}

void notifyStopping(std::string_view status) {
  sendServiceNotification("STOPPING=1\nSTATUS=" + statusValue(status));
}

}  // namespace mxguard::milter
