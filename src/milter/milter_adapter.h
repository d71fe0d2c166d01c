// milter_adapter.h - libmilter callbacks: macros and arguments become Engine calls, Verdicts
// become SMFIS_* codes and smfi_setreply/smfi_setmlreply. Every callback runs behind one
// exception firewall, so a bug answers "tempfail", never crashes the daemon.
// Must not: make policy decisions (the Engine does) or keep state outside the per-connection
// object.
#pragma once

#include <libmilter/mfapi.h>

#include <span>
#include <string>

#include "app/policy_holder.h"

namespace mxguard::milter {

// Every libmilter call the callbacks make goes through this seam, so a unit test can drive the
// callbacks with a fake SMFICTX* and see what they would have told the MTA. The base class is
// the production implementation: each method forwards to its smfi_* function unchanged (one
// virtual call more, no allocation). libmilter copies what it is given and writes to none of it,
// so the strings are const here.
class MilterCalls {
 public:
  virtual ~MilterCalls() = default;
  virtual void* getPriv(SMFICTX* ctx);
  virtual int setPriv(SMFICTX* ctx, void* priv);
  virtual const char* getSymVal(SMFICTX* ctx, const char* name);  // nullptr: macro not sent
  virtual int setReply(SMFICTX* ctx, const char* code, const char* enhanced, const char* text);
  // The lines in order, at most Reply::kMaxLines (smfi_setmlreply's own limit; more are dropped).
  virtual int setMlReply(SMFICTX* ctx, const char* code, const char* enhanced,
                         std::span<const char* const> lines);
  virtual int quarantine(SMFICTX* ctx, const char* reason);
  virtual int chgHeader(SMFICTX* ctx, const char* name, int index, const char* value);
  virtual int insHeader(SMFICTX* ctx, int index, const char* name, const char* value);
};

// Tests only: route the callbacks' libmilter calls to `calls` (nullptr: libmilter again). Not
// synchronised: set it while no callback runs, never in the daemon.
void setMilterCallsForTests(MilterCalls* calls);

// The policy source for new connections; set once before smfi_main.
void setPolicyHolder(app::PolicyHolder* holder);
// Our own host name, used when the MTA does not send macro j.
void setDefaultHostname(const std::string& name);

// Whether the MTA may send DATA without waiting for our answer (SMFIP_NR_DATA). Only on a unix
// socket: over TCP, Postfix's separate DATA write then waits ~40 ms for a delayed ACK (Nagle on
// its side, which TCP_NODELAY on ours cannot change). Set once before smfi_main.
void setUnansweredData(bool unanswered);

// At most `limit` SMTP connections at once (max_connections in mxguard.conf): each holds a socket
// and an Engine, and past the open-file limit libmilter stops accepting. The next
// connection is answered 421 4.7.0 at connect (the MTA closes the session), logged and counted
// (milter.connection_limit). Set before smfi_main.
constexpr unsigned kDefaultConnectionLimit = 1000;
void setConnectionLimit(unsigned limit);

// The filter description to pass to smfi_register.
smfiDesc makeFilterDescription();

}  // namespace mxguard::milter
