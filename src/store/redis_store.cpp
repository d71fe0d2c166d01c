// redis_store.cpp - synchronous hiredis calls bounded by redisSetTimeout; a failed connection is
// dropped (never returned to the pool), the next call reconnects. While Redis is known to be
// down, calls fail at once for `retryAfter` instead of each paying the connect timeout.
// Must not: put untrusted text into a command string (arguments go through hiredis' %s/%b).
#include "store/redis_store.h"

#include <hiredis/hiredis.h>

#include <cmath>

#include "base/counters.h"
#include "base/log.h"
#include "base/metrics.h"
#include "store/greylist_script.h"

namespace mxguard::store {
namespace {

// KEYS[1] bucket; ARGV capacity, refill per second. The server's clock, so every host of a fleet
// refills the same bucket the same way. A bucket lives until it is full again (plus 1 s): one in
// debt outlives fresh ones, so under `maxmemory-policy volatile-ttl` a flood of new keys is
// evicted before an exhausted client's bucket (issue 28, finding 8).
const char* kTokenBucketScript = R"lua(
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = math.min(tonumber(ARGV[3]), capacity)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) / 1000 * rate)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens), retry}
)lua";

timeval toTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string contextError(redisContext* c) {
  if (!c) return "cannot allocate a Redis context";
  std::string e = c->errstr[0] ? c->errstr : "unknown error";
  if (c->err == REDIS_ERR_IO && (e.find("Resource temporarily unavailable") != std::string::npos))
    e = "timed out";
  return e;
}

// Why `r` is not the answer asked for: the connection's error when there is no reply at all,
// else Redis' own error text, else (a reply of another type) "unexpected reply".
std::string replyError(redisContext* c, const redisReply* r) {
  if (!r) return contextError(c);
  return r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unexpected reply";
}

}  // namespace

void RedisStore::ContextDeleter::operator()(redisContext* c) const {
  if (c) redisFree(c);
}

RedisStore::RedisStore(RedisOptions options)
    : options_(std::move(options)), tokenBucket_(kTokenBucketScript), greylist_(kGreylistScript) {}

RedisStore::~RedisStore() = default;

std::string RedisStore::describe() const {
  return "redis " + options_.host + ":" + std::to_string(options_.port);
}

void RedisStore::markDown(const std::string& error) {
  countEvent("store.redis_failure");
  bool first;
  std::vector<ContextPtr> stale;
  {
    std::lock_guard guard(mutex_);
    first = !down_;
    down_ = true;
    downUntil_ = std::chrono::steady_clock::now() + options_.retryAfter;
    // The idle connections lead to the same failed server: after a restart each would fail
    // once more and restart the fail-fast window, so drop them all now.
    open_ -= idle_.size();
    stale.swap(idle_);
  }
  if (first)
    logMessage(LogLevel::Error, "store: " + describe() + " unavailable (" + error +
                                    "); stages follow their on_failure until it is back");
}

void RedisStore::markUp() {
  bool wasDown;
  {
    std::lock_guard guard(mutex_);
    wasDown = down_;
    down_ = false;
  }
  if (wasDown) logMessage(LogLevel::Info, "store: " + describe() + " is back");
}

RedisStore::ContextPtr RedisStore::connect(std::string* error) {
  timeval tv = toTimeval(options_.timeout);
  ContextPtr c(redisConnectWithTimeout(options_.host.c_str(), options_.port, tv));
  if (!c || c->err) {
    *error = "connect: " + contextError(c.get());
    return nullptr;
  }
  redisSetTimeout(c.get(), tv);
  if (!options_.password.empty()) {
    ReplyPtr r(
        static_cast<redisReply*>(redisCommand(c.get(), "AUTH %s", options_.password.c_str())));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = "AUTH failed: " + (r ? std::string(r->str, r->len) : contextError(c.get()));
      return nullptr;
    }
  }
  if (options_.database != 0) {
    ReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "SELECT %d", options_.database)));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *error = "SELECT failed: " + (r ? std::string(r->str, r->len) : contextError(c.get()));
      return nullptr;
    }
  }
  return c;
}

RedisStore::ContextPtr RedisStore::acquire(std::string* error) {
  std::unique_lock lock(mutex_);
  if (down_ && std::chrono::steady_clock::now() < downUntil_) {
    // Known to be down: fail at once; the retry window is not extended by these calls.
    countEvent("store.redis_failure");
    *error = "unavailable (retrying shortly)";
    return nullptr;
  }
  auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  while (idle_.empty() && open_ >= options_.poolSize) {
    if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= options_.poolSize) {
      *error = "all " + std::to_string(options_.poolSize) + " connections busy";
      countEvent("store.redis_pool_exhausted");
      return nullptr;
    }
  }
  if (!idle_.empty()) {
    ContextPtr c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  ++open_;
  lock.unlock();
  ContextPtr c = connect(error);
  if (!c) {
    {
      std::lock_guard guard(mutex_);
      --open_;
      available_.notify_one();
    }
    markDown(*error);
  }
  return c;
}

void RedisStore::settle(ContextPtr c, StoreStatus status, const std::string& error) {
  release(std::move(c));
  if (status == StoreStatus::Unavailable)
    markDown(error);
  else
    markUp();
}

void RedisStore::release(ContextPtr c) {
  std::lock_guard guard(mutex_);
  if (c && c->err == 0) {
    idle_.push_back(std::move(c));
  } else {
    --open_;  // broken: dropped; the next acquire reconnects
  }
  available_.notify_one();
}

StoreResult RedisStore::get(const std::string& key) {
  metrics::Timer timer(metrics::Dependency::Redis);
  std::string error;
  ContextPtr c = acquire(&error);
  if (!c) return {StoreStatus::Unavailable, "", error};
  std::string k = options_.keyPrefix + key;
  ReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "GET %b", k.data(), k.size())));
  StoreResult out;
  if (r && r->type == REDIS_REPLY_NIL)
    out = {StoreStatus::NotFound, "", ""};
  else if (r && r->type == REDIS_REPLY_STRING)
    out = {StoreStatus::Ok, std::string(r->str, r->len), ""};
  else
    out = {StoreStatus::Unavailable, "", replyError(c.get(), r.get())};
  settle(std::move(c), out.status, out.error);
  return out;
}

std::vector<StoreResult> RedisStore::getMany(const std::vector<std::string>& keys) {
  if (keys.size() < 2) return Store::getMany(keys);  // a GET is as good
  metrics::Timer timer(metrics::Dependency::Redis);
  std::string error;
  auto unavailable = [&](const std::string& why) {
    return std::vector<StoreResult>(keys.size(), StoreResult{StoreStatus::Unavailable, "", why});
  };
  ContextPtr c = acquire(&error);
  if (!c) return unavailable(error);
  std::vector<std::string> prefixed;
  std::vector<const char*> argv{"MGET"};
  std::vector<size_t> argl{4};
  prefixed.reserve(keys.size());
  for (const auto& k : keys) {
    prefixed.push_back(options_.keyPrefix + k);
    argv.push_back(prefixed.back().data());
    argl.push_back(prefixed.back().size());
  }
  ReplyPtr r(static_cast<redisReply*>(
      redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), argl.data())));
  std::vector<StoreResult> out;
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == keys.size()) {
    for (size_t i = 0; i < r->elements; ++i) {
      const redisReply* e = r->element[i];
      if (e->type == REDIS_REPLY_STRING)
        out.push_back({StoreStatus::Ok, std::string(e->str, e->len), ""});
      else
        out.push_back({StoreStatus::NotFound, "", ""});  // nil: absent, expired, or not a string
    }
  } else {
    out = unavailable(replyError(c.get(), r.get()));
  }
  settle(std::move(c), out.front().status, out.front().error);
  return out;
}

StoreResult RedisStore::set(const std::string& key, const std::string& value,
                            std::chrono::seconds ttl) {
  metrics::Timer timer(metrics::Dependency::Redis);
  std::string error;
  ContextPtr c = acquire(&error);
  if (!c) return {StoreStatus::Unavailable, "", error};
  std::string k = options_.keyPrefix + key;
  long long seconds = std::max<long long>(1, ttl.count());
  ReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "SET %b %b EX %lld", k.data(), k.size(),
                                                   value.data(), value.size(), seconds)));
  StoreResult out{StoreStatus::Ok, "", ""};
  if (!r || r->type == REDIS_REPLY_ERROR)
    out = {StoreStatus::Unavailable, "", replyError(c.get(), r.get())};
  settle(std::move(c), out.status, out.error);
  return out;
}

TokenResult RedisStore::takeToken(const std::string& key, double capacity, double refillPerSecond,
                                  double cost) {
  metrics::Timer timer(metrics::Dependency::Redis);
  std::string error;
  ContextPtr c = acquire(&error);
  if (!c) return {StoreStatus::Unavailable, false, 0, std::chrono::milliseconds(0), error};
  ReplyPtr r =
      tokenBucket_.run(c.get(), {options_.keyPrefix + key},
                       {std::to_string(capacity), std::to_string(std::max(refillPerSecond, 1e-6)),
                        std::to_string(std::max(cost, 0.0))});
  TokenResult out{StoreStatus::Ok, false, 0, std::chrono::milliseconds(0), ""};
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
      r->element[0]->type == REDIS_REPLY_INTEGER) {
    out.allowed = r->element[0]->integer == 1;
    if (r->element[1]->type == REDIS_REPLY_STRING) out.remaining = std::atof(r->element[1]->str);
    if (r->element[2]->type == REDIS_REPLY_INTEGER)
      out.retryAfter = std::chrono::milliseconds(r->element[2]->integer);
  } else {
    out = {StoreStatus::Unavailable, false, 0, std::chrono::milliseconds(0),
           replyError(c.get(), r.get())};
  }
  settle(std::move(c), out.status, out.error);
  return out;
}

GreylistResult RedisStore::greylist(const GreylistKeys& keys, const GreylistTimes& t) {
  metrics::Timer timer(metrics::Dependency::Redis);
  GreylistResult out;  // Unavailable until Redis answers
  ContextPtr c = acquire(&out.error);
  if (!c) return out;
  const std::string& p = options_.keyPrefix;
  ReplyPtr r = greylist_.run(c.get(), {p + keys.triplet, p + keys.network, p + keys.autoAllow},
                             greylistArgs(t));
  if (!parseGreylistReply(r.get(), &out)) out.error = replyError(c.get(), r.get());
  settle(std::move(c), out.status, out.error);
  return out;
}

}  // namespace mxguard::store
