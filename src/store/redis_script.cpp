// redis_script.cpp - EVALSHA with the arguments through redisCommandArgv (binary-safe), SCRIPT LOAD
// on first use, and one reload and retry when the server answers NOSCRIPT.
// Must not: hold the digest's lock across a round trip (connections run scripts in parallel).
#include "store/redis_script.h"

#include <hiredis/hiredis.h>

#include <string_view>

namespace mxguard::store {
namespace {

ReplyPtr evalSha(redisContext* c, const std::string& sha, const std::vector<std::string>& keys,
                 const std::vector<std::string>& args) {
  std::string numKeys = std::to_string(keys.size());
  std::vector<const char*> argv{"EVALSHA", sha.data(), numKeys.data()};
  std::vector<size_t> argl{7, sha.size(), numKeys.size()};
  for (const auto* list : {&keys, &args}) {
    for (const auto& a : *list) {
      argv.push_back(a.data());
      argl.push_back(a.size());
    }
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), argl.data())));
}

bool isNoScript(const redisReply* r) {
  return r && r->type == REDIS_REPLY_ERROR &&
         std::string_view(r->str, r->len).rfind("NOSCRIPT", 0) == 0;
}

}  // namespace

void ReplyDeleter::operator()(redisReply* r) const {
  if (r) freeReplyObject(r);
}

ReplyPtr RedisScript::run(redisContext* c, const std::vector<std::string>& keys,
                          const std::vector<std::string>& args) {
  std::string sha;
  {
    std::lock_guard guard(mutex_);
    sha = sha_;
  }
  ReplyPtr r;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (sha.empty()) {
      ReplyPtr loaded(static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", source_)));
      if (!loaded || loaded->type != REDIS_REPLY_STRING) return loaded;
      sha.assign(loaded->str, loaded->len);
      std::lock_guard guard(mutex_);
      sha_ = sha;
    }
    r = evalSha(c, sha, keys, args);
    if (!isNoScript(r.get())) break;
    sha.clear();  // the server lost its scripts: load again
  }
  return r;
}

}  // namespace mxguard::store
