// redis_store.h - the Store on Redis (hiredis), shared by a fleet of MX hosts: a small pool of
// connections, connect and command timeouts, reconnect after errors, keys namespaced and
// versioned ("mxguard:v1:..."), the token bucket (on the server's clock) and the greylisting step
// each as one Lua script.
// Must not: wait longer than the configured timeout, or log more than once per outage.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/redis_script.h"
#include "store/store.h"

struct redisContext;

namespace mxguard::store {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;                        // AUTH when non-empty
  int database = 0;                            // SELECT
  std::chrono::milliseconds timeout{200};      // connect, and each command
  size_t poolSize = 8;                         // connections kept open at most
  std::chrono::milliseconds retryAfter{1000};  // after a failure, fail fast this long
  std::string keyPrefix = "mxguard:v1:";
};

class RedisStore : public Store {
 public:
  explicit RedisStore(RedisOptions options);
  ~RedisStore() override;

  StoreResult get(const std::string& key) override;
  std::vector<StoreResult> getMany(const std::vector<std::string>& keys) override;  // MGET
  StoreResult set(const std::string& key, const std::string& value,
                  std::chrono::seconds ttl) override;
  TokenResult takeToken(const std::string& key, double capacity, double refillPerSecond,
                        double cost) override;
  using Store::takeToken;
  GreylistResult greylist(const GreylistKeys& keys, const GreylistTimes& t) override;  // EVALSHA
  std::string describe() const override;

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

  // A connection from the pool or a new one; nullptr + *error when Redis cannot be reached now.
  ContextPtr acquire(std::string* error);
  void release(ContextPtr c);
  // After a command: the connection back to the pool (release), then Redis' state from how it
  // answered: down when it could not (markDown), up otherwise.
  void settle(ContextPtr c, StoreStatus status, const std::string& error);
  ContextPtr connect(std::string* error);
  void markDown(const std::string& error);  // logs once per outage, counts every failure
  void markUp();

  RedisOptions options_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<ContextPtr> idle_;
  size_t open_ = 0;  // connections handed out or idle
  std::chrono::steady_clock::time_point downUntil_{};
  bool down_ = false;
  RedisScript tokenBucket_;
  RedisScript greylist_;
};

}  // namespace mxguard::store
