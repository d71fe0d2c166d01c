// greylist_script.h - Store::greylist on Redis: the Lua script that runs the whole step on the
// server (one round trip, atomic for every MX sharing the Redis), its arguments and its reply.
// Must not: read the server's clock (the window is judged on the caller's `now`, as in memory).
#pragma once

#include <string>
#include <vector>

#include "store/store.h"

struct redisReply;

namespace mxguard::store {

// KEYS: triplet, network, autoAllow (prefixed by the caller).
extern const char* const kGreylistScript;

// ARGV for kGreylistScript: the times, TTLs raised to Redis' minimum of 1 s.
std::vector<std::string> greylistArgs(const GreylistTimes& t);

// Fills verdict, waitLeft, waited, firstAttempt, nowAutoAllowed and status Ok from the script's
// reply; false (out untouched) when `r` is not such a reply.
bool parseGreylistReply(const redisReply* r, GreylistResult* out);

}  // namespace mxguard::store
