// store_factory.cpp - memory by default (no Redis needed); Redis when a fleet shares results.
// Must not: hide which backend is in use: describe() goes into the startup log line.
#include "app/store_factory.h"

#include "store/memory_store.h"
#include "store/redis_store.h"

namespace mxguard::app {

store::StoreSharedPtr makeStore(const StoreOptions& options) {
  if (options.backend == "redis") {
    store::RedisOptions r;
    r.host = options.redisHost;
    r.port = options.redisPort;
    r.password = options.redisPassword;
    r.database = options.redisDatabase;
    r.timeout = std::chrono::milliseconds(options.timeoutMs);
    r.poolSize = options.poolSize;
    return std::make_shared<store::RedisStore>(r);
  }
  return std::make_shared<store::MemoryStore>(options.maxEntries);
}

}  // namespace mxguard::app
