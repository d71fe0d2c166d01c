// redis_script.h - a Lua script run with EVALSHA: its body travels once per store (SCRIPT LOAD),
// and again only when the server has lost it (NOSCRIPT after a restart or SCRIPT FLUSH).
// Must not: send the body with every call, or put an argument into a command string.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace mxguard::store {

struct ReplyDeleter {
  void operator()(redisReply* r) const;
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisScript {
 public:
  explicit RedisScript(const char* source) : source_(source) {}
  // Redis' reply to the script, or the failed SCRIPT LOAD's (an error reply, or null when the
  // connection failed: c->err says why). One EVALSHA when the script is loaded already.
  ReplyPtr run(redisContext* c, const std::vector<std::string>& keys,
               const std::vector<std::string>& args);

 private:
  const char* source_;
  std::mutex mutex_;
  std::string sha_;  // SCRIPT LOAD's digest; empty until loaded, and after NOSCRIPT
};

}  // namespace mxguard::store
