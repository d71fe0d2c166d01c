// service_notify.h - tells a service manager (systemd's Type=notify, sd_notify(3)) what the daemon
// is doing: ready, reloading, stopping, and a one-line status. A no-op without $NOTIFY_SOCKET.
// Must not: decide when to notify (daemon.cpp does), block, or fail the daemon if sending fails.
#pragma once

#include <string>
#include <string_view>

namespace mxguard::milter {

// READY=1 with STATUS=status: the milter socket listens (at start), or a reload is over.
void notifyReady(std::string_view status);
// RELOADING=1 with MONOTONIC_USEC (systemd >= 253 wants it) and STATUS=status.
void notifyReloading(std::string_view status);
// STOPPING=1 with STATUS=status.
void notifyStopping(std::string_view status);

// One datagram of newline-separated VAR=value assignments to $NOTIFY_SOCKET (a path, or
// "@name" for the abstract namespace). Returns false if there is no such socket or sending failed
// (logged as a warning).
bool sendServiceNotification(std::string_view assignments);

// `text` as one STATUS= value: control bytes (a newline would start a new assignment) become
// spaces, and it is cut to 1024 bytes so a long config error cannot exceed the datagram.
std::string statusValue(std::string_view text);

}  // namespace mxguard::milter
