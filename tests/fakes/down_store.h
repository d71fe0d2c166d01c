// down_store.h - a Store whose greylist call fails as a Redis outage does (Unavailable, with a
// reason); everything else is the real in-memory store.
// Must not: be used by integration tests (they stop a real redis-server instead).
#pragma once

#include "store/memory_store.h"

namespace mxguard::testing {

class GreylistDownStore : public store::MemoryStore {
 public:
  store::GreylistResult greylist(const store::GreylistKeys&, const store::GreylistTimes&) override {
    store::GreylistResult r;
    r.error = "connection refused";
    return r;
  }
};

}  // namespace mxguard::testing
