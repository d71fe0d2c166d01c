// milter_adapter.h - libmilter callbacks: macros and arguments become Session calls, Verdicts
// become SMFIS_* codes and smfi_setreply/smfi_setmlreply. Every callback runs behind one
// exception firewall, so a bug answers "tempfail", never crashes the daemon.
// Must not: make policy decisions (the Session does) or keep state outside the per-connection
// object.
#pragma once

#include <libmilter/mfapi.h>

#include "app/policy_holder.h"

namespace mxguard::milter {

// The policy source for new connections; set once before smfi_main.
void setPolicyHolder(app::PolicyHolder* holder);
// Our own host name, used when the MTA does not send macro j.
void setDefaultHostname(const std::string& name);

// Whether the MTA may send DATA without waiting for our answer (SMFIP_NR_DATA). Only on a unix
// socket: over TCP, Postfix's separate DATA write then waits ~40 ms for a delayed ACK (Nagle on
// its side, which TCP_NODELAY on ours cannot change). Set once before smfi_main.
void setUnansweredData(bool unanswered);

// The filter description to pass to smfi_register.
smfiDesc makeFilterDescription();

}  // namespace mxguard::milter
