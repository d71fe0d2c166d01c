// privileges.h - what the daemon does between binding its sockets and serving: give the unix
// socket its configured owner and mode, drop root, and refuse to go on as root unless told to.
// Must not: run after smfi_main has started (connections would be served as root until then).
#pragma once

#include <sys/types.h>

#include <string>

namespace mxguard::milter {

struct SocketPermissions {
  std::string owner;  // "" = the `user` we drop to (or leave as is)
  std::string group;  // "" = the owner's primary group
  mode_t mode = 0660;
};

// The path of a unix:/local: milter socket, "" for inet sockets.
std::string unixSocketPath(const std::string& socket);

// chown/chmod of a unix socket. `dropUser` is the `user` option (the default owner). Returns
// false with *error set when a configured owner/group cannot be applied.
bool applySocketPermissions(const std::string& path, const SocketPermissions& perms,
                            const std::string& dropUser, std::string* error);

// setgid/initgroups/setuid to `user`; a no-op when already running as that user.
bool dropPrivileges(const std::string& user, std::string* error);

// Still root after dropping (no `user`, or `user = root`) and not allowed: the text to log.
std::string rootRefusal(bool allowRoot);

}  // namespace mxguard::milter
