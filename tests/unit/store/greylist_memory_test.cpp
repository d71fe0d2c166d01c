// greylist_memory_test.cpp - Store::greylist on the memory store: the shared rule sequences,
// TTLs on its own (fake) steady clock, the entry bound, and many threads on the same keys.
// Must not: sleep (the fake clock moves time; the caller's `now` is passed in).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "store/greylist_step.h"
#include "store/memory_store.h"
#include "unit/store/greylist_sequence.h"

namespace mxguard::store {
namespace {

using namespace greylist_sequence;
using std::chrono::seconds;

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  MemoryStore::Clock fn() {
    return [this] { return now; };
  }
};

TEST(GreylistMemory, FirstRetryKnownAndExpiredWindow) {
  MemoryStore store;
  firstRetryKnownAndExpiredWindow(store);
}

TEST(GreylistMemory, AutoAllowAfterPasses) {
  MemoryStore store;
  autoAllowAfterPasses(store);
}

TEST(GreylistMemory, AutoAllowNever) {
  MemoryStore store;
  autoAllowNever(store);
}

TEST(GreylistMemory, ZeroDelayPassesAtOnce) {
  MemoryStore store;
  zeroDelayPassesAtOnce(store);
}

TEST(GreylistMemory, NegativeElapsedCountsAsZero) {
  MemoryStore store;
  negativeElapsedCountsAsZero(store);
}

TEST(GreylistMemory, StoredValuesAndTheCounterGoneOnceAutoAllowed) {
  MemoryStore store;
  GreylistTimes t;
  t.autoAllowAfter = 2;
  auto k = keysFor("192.0.2.0/24", "a>b");
  store.greylist(k, at(kT0, t));
  EXPECT_EQ(store.get(k.triplet).value, std::to_string(kT0) + ":0");
  store.greylist(k, at(kT0 + 400, t));
  EXPECT_EQ(store.get(k.triplet).value, std::to_string(kT0) + ":1");  // first seen is kept
  EXPECT_EQ(store.get(k.network).value, "1");
  EXPECT_TRUE(store.greylist(k, at(kT0 + 500, t)).nowAutoAllowed);
  EXPECT_EQ(store.get(k.autoAllow).value, "1");
  EXPECT_EQ(store.get(k.network).status, StoreStatus::NotFound);
}

TEST(GreylistMemory, UnparseableTripletIsAFirstAttempt) {
  MemoryStore store;
  auto k = keysFor("192.0.2.0/24", "a>b");
  for (const char* junk : {"", "x", "123", "123:2", "123:1x", ":1", "12 :1"}) {
    store.set(k.triplet, junk, seconds(60));
    auto r = store.greylist(k, at(kT0));
    EXPECT_EQ(r.verdict, GreylistVerdict::Greylisted) << junk;
    EXPECT_TRUE(r.firstAttempt) << junk;
  }
}

// TTLs run on the store's own steady clock: a pending triplet is dropped after the retry window,
// a passed one and the auto-allow are kept while in use.
TEST(GreylistMemory, TtlsOnTheStoreClockAndRefreshedByUse) {
  FakeClock clock;
  MemoryStore store(1000, clock.fn());
  GreylistTimes t;
  t.retryWindow = seconds(1000);
  t.passTtl = seconds(2000);
  t.autoAllowTtl = seconds(3000);
  t.autoAllowAfter = 3;
  auto k = keysFor("192.0.2.0/24", "a>b");
  store.greylist(k, at(kT0, t));
  clock.now += seconds(1000);
  EXPECT_EQ(store.get(k.triplet).status, StoreStatus::NotFound);  // retryWindow elapsed
  store.greylist(k, at(kT0 + 1000, t));
  store.greylist(k, at(kT0 + 1300, t));  // passed: kept passTtl from now
  for (int i = 0; i < 3; ++i) {
    clock.now += seconds(1900);
    EXPECT_EQ(store.get(k.triplet).status, StoreStatus::Ok) << i;
    auto r = store.greylist(k, at(kT0 + 1400 + i, t));  // Known refreshes the triplet
    EXPECT_EQ(r.verdict, i < 2 ? GreylistVerdict::Known : GreylistVerdict::AutoAllowed) << i;
  }
  clock.now += seconds(2001);
  EXPECT_EQ(store.get(k.triplet).status, StoreStatus::NotFound);
  EXPECT_EQ(store.get(k.autoAllow).status, StoreStatus::Ok);  // refreshed by the AutoAllowed call
  clock.now += seconds(900);
  EXPECT_EQ(store.greylist(k, at(kT0 + 9000, t)).verdict, GreylistVerdict::AutoAllowed);
  clock.now += seconds(2999);
  EXPECT_EQ(store.get(k.autoAllow).status, StoreStatus::Ok);  // refreshed by that use
  clock.now += seconds(1);
  EXPECT_EQ(store.get(k.autoAllow).status, StoreStatus::NotFound);
  EXPECT_EQ(store.greylist(k, at(kT0 + 9001, t)).verdict, GreylistVerdict::Greylisted);
}

TEST(GreylistMemory, ZeroTtlsAreRaisedToOneSecond) {
  FakeClock clock;
  MemoryStore store(1000, clock.fn());
  GreylistTimes t;
  t.retryWindow = seconds(0);
  auto k = keysFor("192.0.2.0/24", "a>b");
  store.greylist(k, at(kT0, t));
  EXPECT_EQ(store.get(k.triplet).status, StoreStatus::Ok);
  clock.now += seconds(1);
  EXPECT_EQ(store.get(k.triplet).status, StoreStatus::NotFound);
}

TEST(GreylistMemory, ManyTripletsStayWithinTheBound) {
  MemoryStore store(16 * 4);        // 4 entries per shard
  for (int i = 0; i < 5000; ++i) {  // each a triplet, and its network's counter when it passes
    auto k = keysFor("10." + std::to_string(i) + "/24", "s" + std::to_string(i) + ">r");
    ASSERT_EQ(store.greylist(k, at(kT0)).status, StoreStatus::Ok);
    ASSERT_EQ(store.greylist(k, at(kT0 + 400)).status, StoreStatus::Ok);
  }
  EXPECT_LE(store.size(), 64u);
}

// Eight threads on one triplet after the delay: exactly one retry passes, every other call is
// Known, and each one counted once for the network.
TEST(GreylistMemory, ConcurrentCallsOnOneTripletCountExactly) {
  MemoryStore store;
  GreylistTimes t;
  t.autoAllowAfter = 0;
  auto k = keysFor("192.0.2.0/24", "a>b");
  store.greylist(k, at(kT0, t));
  std::atomic<int> passed{0}, known{0}, other{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 8; ++n)
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto r = store.greylist(k, at(kT0 + 301, t));
        if (r.verdict == GreylistVerdict::PassedRetry)
          ++passed;
        else if (r.verdict == GreylistVerdict::Known)
          ++known;
        else
          ++other;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(passed, 1);
  EXPECT_EQ(known, 8 * 200 - 1);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(store.get(k.network).value, std::to_string(8 * 200));
}

// Threads crossing networks and triplets (their keys in different shards, locked in different
// combinations): no deadlock, one auto-allow per network, and every pass before it counted.
TEST(GreylistMemory, ConcurrentCallsAcrossNetworksAutoAllowEachOnce) {
  MemoryStore store;
  GreylistTimes t;
  t.autoAllowAfter = 50;
  constexpr int kNetworks = 7;
  for (int net = 0; net < kNetworks; ++net)
    for (int s = 0; s < 5; ++s)
      store.greylist(keysFor("n" + std::to_string(net), "s" + std::to_string(s)), at(kT0, t));
  std::atomic<int> nowAllowed{0}, passes{0}, allowed{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 8; ++n)
    threads.emplace_back([&, n] {
      for (int i = 0; i < 300; ++i) {
        auto k = keysFor("n" + std::to_string((n + i) % kNetworks), "s" + std::to_string(i % 5));
        auto r = store.greylist(k, at(kT0 + 301, t));
        ASSERT_EQ(r.status, StoreStatus::Ok);
        nowAllowed += r.nowAutoAllowed;
        if (r.verdict == GreylistVerdict::AutoAllowed)
          ++allowed;
        else
          ++passes;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(nowAllowed, kNetworks);
  EXPECT_EQ(passes, kNetworks * 50);
  EXPECT_EQ(allowed, 8 * 300 - kNetworks * 50);
}

TEST(GreylistStep, ParseTriplet) {
  int64_t first = 0;
  bool passed = false;
  EXPECT_TRUE(parseTriplet("1796600000:1", &first, &passed));
  EXPECT_EQ(first, 1796600000);
  EXPECT_TRUE(passed);
  EXPECT_TRUE(parseTriplet("5:0", &first, &passed));
  EXPECT_FALSE(passed);
  EXPECT_FALSE(parseTriplet("5:", &first, &passed));
  EXPECT_FALSE(parseTriplet("5:01", &first, &passed));
  EXPECT_FALSE(parseTriplet("99999999999999999999:0", &first, &passed));
}

}  // namespace
}  // namespace mxguard::store
