// greylist_script.cpp - the greylisting step in Lua, the same rules as greylist_step.cpp (memory),
// so a fleet on Redis and a single host in memory greylist alike.
// Must not: let EXPIRE or EX see 0 (an error in Redis): greylistArgs raises every TTL to 1 s.
#include "store/greylist_script.h"

#include <hiredis/hiredis.h>

#include <algorithm>

namespace mxguard::store {

// Reply: {verdict (0 AutoAllowed, 1 Known, 2 PassedRetry, 3 Greylisted), waitLeft, waited,
// firstAttempt, nowAutoAllowed}, all integers.
const char* const kGreylistScript = R"lua(
local now = tonumber(ARGV[1])
local delay = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local allowAfter = tonumber(ARGV[7])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('EXPIRE', KEYS[3], ARGV[6])
  return {0, 0, 0, 0, 0}
end
local function countPass()
  local n = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[6])
  if allowAfter > 0 and n >= allowAfter then
    redis.call('SET', KEYS[3], '1', 'EX', ARGV[6])
    redis.call('DEL', KEYS[2])
    return 1
  end
  return 0
end
local function firstAttempt()
  redis.call('SET', KEYS[1], ARGV[1] .. ':0', 'EX', ARGV[4])
  return {3, delay, 0, 1, 0}
end
local v = redis.call('GET', KEYS[1])
local first, passed
if v then first, passed = string.match(v, '^(%-?%d+):([01])$') end
if not first then
  if delay > 0 then return firstAttempt() end
  redis.call('SET', KEYS[1], ARGV[1] .. ':1', 'EX', ARGV[5])
  return {2, 0, 0, 0, countPass()}
end
if passed == '1' then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return {1, 0, 0, 0, countPass()}
end
local elapsed = math.max(0, now - tonumber(first))
if elapsed < delay then return {3, delay - elapsed, 0, 0, 0} end
if elapsed > window then return firstAttempt() end
redis.call('SET', KEYS[1], first .. ':1', 'EX', ARGV[5])
return {2, 0, elapsed, 0, countPass()}
)lua";

std::vector<std::string> greylistArgs(const GreylistTimes& t) {
  auto ttl = [](std::chrono::seconds s) { return std::to_string(std::max<int64_t>(1, s.count())); };
  return {std::to_string(t.now),
          std::to_string(std::max<int64_t>(0, t.delay.count())),
          std::to_string(t.retryWindow.count()),
          ttl(t.retryWindow),
          ttl(t.passTtl),
          ttl(t.autoAllowTtl),
          std::to_string(t.autoAllowAfter)};
}

bool parseGreylistReply(const redisReply* r, GreylistResult* out) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 5) return false;
  for (size_t i = 0; i < 5; ++i)
    if (r->element[i]->type != REDIS_REPLY_INTEGER) return false;
  static constexpr GreylistVerdict kVerdicts[] = {
      GreylistVerdict::AutoAllowed, GreylistVerdict::Known, GreylistVerdict::PassedRetry,
      GreylistVerdict::Greylisted};
  long long verdict = r->element[0]->integer;
  if (verdict < 0 || verdict > 3) return false;
  out->status = StoreStatus::Ok;
  out->verdict = kVerdicts[verdict];
  out->waitLeft = std::chrono::seconds(r->element[1]->integer);
  out->waited = std::chrono::seconds(r->element[2]->integer);
  out->firstAttempt = r->element[3]->integer == 1;
  out->nowAutoAllowed = r->element[4]->integer == 1;
  out->error.clear();
  return true;
}

}  // namespace mxguard::store
