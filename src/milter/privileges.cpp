// privileges.cpp - socket ownership, privilege drop and the root refusal (see privileges.h).
// Must not: log (the daemon decides how a failure is reported and which exit code it gets).
#include "milter/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mxguard::milter {

std::string unixSocketPath(const std::string& socket) {
  if (socket.rfind("unix:", 0) == 0 || socket.rfind("local:", 0) == 0)
    return socket.substr(socket.find(':') + 1);
  return "";
}

bool applySocketPermissions(const std::string& path, const SocketPermissions& perms,
                            const std::string& dropUser, std::string* error) {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  const std::string& owner = perms.owner.empty() ? dropUser : perms.owner;
  if (!owner.empty()) {
    passwd* pw = getpwnam(owner.c_str());
    if (!pw) {
      *error = (perms.owner.empty() ? "user '" : "socket owner '") + owner + "' does not exist";
      return false;
    }
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  if (!perms.group.empty()) {
    group* gr = getgrnam(perms.group.c_str());
    if (!gr) {
      *error = "socket group '" + perms.group + "' does not exist";
      return false;
    }
    gid = gr->gr_gid;
  }
  // Mode first: between bind and here the umask (0007) kept the socket closed to others.
  if (chmod(path.c_str(), perms.mode) != 0) {
    *error = "cannot chmod " + path + ": " + std::strerror(errno);
    return false;
  }
  if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
      chown(path.c_str(), uid, gid) != 0) {
    *error = "cannot give " + path + " to " + (owner.empty() ? "its owner" : owner) +
             (perms.group.empty() ? "" : ":" + perms.group) + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool dropPrivileges(const std::string& user, std::string* error) {
  passwd* pw = getpwnam(user.c_str());
  if (!pw) {
    *error = "user '" + user + "' does not exist";
    return false;
  }
  // Started as that user already (systemd's User=): nothing to drop, and no right to.
  if (geteuid() == pw->pw_uid && getegid() == pw->pw_gid) return true;
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
      setuid(pw->pw_uid) != 0) {
    *error = "cannot switch to user '" + user + "': " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string rootRefusal(bool allowRoot) {
  if (allowRoot || geteuid() != 0) return "";
  return "refusing to serve as root: set 'user = mxguard' in mxguard.conf (or --user NAME) to "
         "drop privileges after binding, or 'allow_root = yes' (--allow-root) to run as root "
         "anyway";
}

}  // namespace mxguard::milter
