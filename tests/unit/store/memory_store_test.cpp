// memory_store_test.cpp - the embedded store with a fake clock: TTL expiry, the entry bound,
// token buckets, and concurrent use.
#include "store/memory_store.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace mxguard::store {
namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  MemoryStore::Clock fn() {
    return [this] { return now; };
  }
};

TEST(MemoryStore, GetSetAndExpiry) {
  FakeClock clock;
  MemoryStore store(1000, clock.fn());
  EXPECT_EQ(store.get("a").status, StoreStatus::NotFound);
  EXPECT_EQ(store.set("a", "value", std::chrono::seconds(10)).status, StoreStatus::Ok);
  auto r = store.get("a");
  EXPECT_EQ(r.status, StoreStatus::Ok);
  EXPECT_EQ(r.value, "value");
  clock.now += std::chrono::seconds(9);
  EXPECT_EQ(store.get("a").status, StoreStatus::Ok);
  clock.now += std::chrono::seconds(1);
  EXPECT_EQ(store.get("a").status, StoreStatus::NotFound);
  EXPECT_EQ(store.size(), 0u);
}

TEST(MemoryStore, GetManyAnswersEachKeyInItsPlace) {
  MemoryStore store;
  store.set("b", "2", std::chrono::seconds(60));
  auto r = store.getMany({"a", "b"});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, StoreStatus::NotFound);
  EXPECT_EQ(r[1].status, StoreStatus::Ok);
  EXPECT_EQ(r[1].value, "2");
}

TEST(MemoryStore, OverwriteResetsTtl) {
  FakeClock clock;
  MemoryStore store(1000, clock.fn());
  store.set("k", "1", std::chrono::seconds(5));
  clock.now += std::chrono::seconds(4);
  store.set("k", "2", std::chrono::seconds(5));
  clock.now += std::chrono::seconds(4);
  EXPECT_EQ(store.get("k").value, "2");
  EXPECT_EQ(store.size(), 1u);
}

TEST(MemoryStore, BoundedEvictingWhatExpiresFirst) {
  FakeClock clock;
  MemoryStore store(16 * 4, clock.fn());  // 4 per shard
  for (int i = 0; i < 1000; ++i)
    store.set("key" + std::to_string(i), "v", std::chrono::seconds(100 + i));
  EXPECT_LE(store.size(), 64u);
  // The newest (longest-lived) entries survived.
  EXPECT_EQ(store.get("key999").status, StoreStatus::Ok);
  EXPECT_EQ(store.get("key0").status, StoreStatus::NotFound);
}

TEST(MemoryStore, TokenBucketTakesAndRefills) {
  FakeClock clock;
  MemoryStore store(1000, clock.fn());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(store.takeToken("b", 3, 1).allowed) << i;
  auto empty = store.takeToken("b", 3, 1);
  EXPECT_EQ(empty.status, StoreStatus::Ok);
  EXPECT_FALSE(empty.allowed);
  clock.now += std::chrono::milliseconds(1500);  // 1.5 tokens back
  auto one = store.takeToken("b", 3, 1);
  EXPECT_TRUE(one.allowed);
  EXPECT_NEAR(one.remaining, 0.5, 0.01);
  EXPECT_FALSE(store.takeToken("b", 3, 1).allowed);
  clock.now += std::chrono::hours(1);  // never more than the capacity
  EXPECT_NEAR(store.takeToken("b", 3, 1).remaining, 2.0, 0.01);
}

TEST(MemoryStore, WeightedTakesAndRetryTime) {
  FakeClock clock;
  MemoryStore store(1000, clock.fn());
  // 10 tokens, 2 per second: a cost of 6, then 6 again is refused until 2 more are back (1 s).
  EXPECT_TRUE(store.takeToken("w", 10, 2, 6).allowed);
  auto refused = store.takeToken("w", 10, 2, 6);
  EXPECT_FALSE(refused.allowed);
  EXPECT_NEAR(refused.remaining, 4.0, 0.01);
  EXPECT_EQ(refused.retryAfter, std::chrono::milliseconds(1000));
  clock.now += std::chrono::milliseconds(999);
  EXPECT_FALSE(store.takeToken("w", 10, 2, 6).allowed);
  clock.now += std::chrono::milliseconds(1);
  EXPECT_TRUE(store.takeToken("w", 10, 2, 6).allowed);
  // A cost above the capacity empties a full bucket instead of waiting forever.
  clock.now += std::chrono::hours(1);
  auto huge = store.takeToken("w", 10, 2, 1e9);
  EXPECT_TRUE(huge.allowed);
  EXPECT_NEAR(huge.remaining, 0.0, 0.01);
}

TEST(MemoryStore, SteadyRateIsAdmittedAndNoWindowEdgeDoublesIt) {
  FakeClock clock;
  MemoryStore store(1000, clock.fn());
  // 1 per second, burst 5: over 60 s at 10 attempts per second, 5 + 60 are admitted, not 120.
  int admitted = 0;
  for (int ms = 0; ms < 60000; ms += 100) {
    admitted += store.takeToken("r", 5, 1).allowed;
    clock.now += std::chrono::milliseconds(100);
  }
  EXPECT_EQ(admitted, 5 + 60 - 1);  // the 60th token is due at 60.0 s, after the last attempt
}

// Issue 28: 110,000 keys from other addresses evicted a client's exhausted buckets, and it was
// then accepted 5 of 5. A bucket is kept until it is full again, and one in debt goes last.
TEST(MemoryStore, AnExhaustedBucketSurvivesAFloodOfFreshOnes) {
  FakeClock clock;
  MemoryStore store(100000, clock.fn());
  // mail_per_ip: 10/min, burst 5 (capacity 5, 1/6 token per second).
  const double capacity = 5, rate = 10.0 / 60;
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(store.takeToken("rl:ip:192.0.2.1", capacity, rate).allowed);
  EXPECT_FALSE(store.takeToken("rl:ip:192.0.2.1", capacity, rate).allowed);
  // Faster than a fresh bucket refills (6 s), so the store is full and evicts.
  for (int i = 0; i < 110000; ++i) {
    if (i % 1000 == 0) clock.now += std::chrono::milliseconds(10);  // 1.1 s in all
    EXPECT_TRUE(store.takeToken("rl:ip:10." + std::to_string(i), capacity, rate).allowed);
  }
  EXPECT_EQ(store.size(), 100000u);
  EXPECT_EQ(store.get("rl:ip:192.0.2.1").status, StoreStatus::Ok);
  // 1.1 s later the client has 0.18 of a token back: still refused, 0 of 5.
  int accepted = 0;
  for (int i = 0; i < 5; ++i)
    accepted += store.takeToken("rl:ip:192.0.2.1", capacity, rate).allowed;
  EXPECT_EQ(accepted, 0);
}

TEST(MemoryStore, ABucketInDebtOutlivesLongerLivedPlainEntries) {
  FakeClock clock;
  MemoryStore store(16 * 4, clock.fn());                          // 4 per shard
  EXPECT_TRUE(store.takeToken("bucket", 1, 1.0 / 3600).allowed);  // empty for an hour
  for (int i = 0; i < 1000; ++i)  // greylist triplets, callout answers: kept for days
    store.set("plain" + std::to_string(i), "v", std::chrono::hours(24 * 35));
  EXPECT_FALSE(store.takeToken("bucket", 1, 1.0 / 3600).allowed);
}

TEST(MemoryStore, ABucketIsKeptUntilFullAgainAndNoLonger) {
  FakeClock clock;
  MemoryStore store(1000, clock.fn());
  store.takeToken("b", 10, 1);  // 9 left: full again in 1 s
  EXPECT_EQ(store.size(), 1u);
  clock.now += std::chrono::milliseconds(999);
  EXPECT_EQ(store.get("b").status, StoreStatus::Ok);
  clock.now += std::chrono::milliseconds(1);
  EXPECT_EQ(store.get("b").status, StoreStatus::NotFound);
  for (int i = 0; i < 10; ++i) store.takeToken("b", 10, 1);  // empty: full again in 10 s
  clock.now += std::chrono::milliseconds(9999);
  EXPECT_EQ(store.get("b").status, StoreStatus::Ok);
  clock.now += std::chrono::milliseconds(1);
  EXPECT_EQ(store.get("b").status, StoreStatus::NotFound);
}

TEST(MemoryStore, ConcurrentTakesNeverOverspend) {
  MemoryStore store;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i)
        if (store.takeToken("shared", 50, 0.001).allowed) ++allowed;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed, 50);
}

}  // namespace
}  // namespace mxguard::store
