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
