// caching_resolver_test.cpp - what CachingResolver keeps, for how long, and what it asks again.
#include "dns/caching_resolver.h"

#include <gtest/gtest.h>

#include <map>

#include "base/counters.h"

namespace mxguard::dns {
namespace {

using namespace std::chrono_literals;

// Answers from a table and counts every query it is asked.
class TableResolver : public Resolver {
 public:
  std::map<std::string, LookupResult> table;
  std::vector<std::string> asked;
  std::vector<LookupResult> lookupAll(const std::vector<Query>& qs,
                                      std::chrono::milliseconds) override {
    std::vector<LookupResult> out;
    for (const auto& q : qs) {
      asked.push_back(q.name);
      out.push_back(table.count(q.name) ? table[q.name] : LookupResult{});
    }
    return out;
  }
};

struct CachingResolverTest : ::testing::Test {
  std::shared_ptr<TableResolver> inner = std::make_shared<TableResolver>();
  std::chrono::steady_clock::time_point now{};
  CachingResolver cache{inner, 3, CachingResolver::kDefaultMaxBytes, [this] { return now; }};
  LookupResult ask(const std::string& name, RrType type = RrType::A) {
    return cache.lookup(name, type, 100ms);
  }
};

TEST_F(CachingResolverTest, OkAnswerIsServedFromTheCacheUntilItsTtlEnds) {
  inner->table["a.example"] = {LookupStatus::Ok, {"192.0.2.1"}, 60, ""};
  EXPECT_EQ(ask("a.example").records, std::vector<std::string>{"192.0.2.1"});
  now += 59s;
  auto second = ask("a.example");
  EXPECT_EQ(second.status, LookupStatus::Ok);
  EXPECT_EQ(second.ttl, 1u);  // the remaining TTL
  EXPECT_EQ(inner->asked.size(), 1u);
  now += 1s;
  ask("a.example");
  EXPECT_EQ(inner->asked.size(), 2u);
}

TEST_F(CachingResolverTest, NegativeAnswersAreKeptTemporaryAndPermanentFailuresAreNot) {
  inner->table["nx.example"] = {LookupStatus::NotFound, {}, 30, ""};
  inner->table["nodata.example"] = {LookupStatus::NoData, {}, 30, ""};
  inner->table["fail.example"] = {LookupStatus::TempFail, {}, 30, "SERVFAIL"};
  inner->table["refused.example"] = {LookupStatus::PermFail, {}, 30, "rcode 5"};
  for (int i = 0; i < 2; ++i)
    for (auto n : {"nx.example", "nodata.example", "fail.example", "refused.example"}) ask(n);
  EXPECT_EQ(inner->asked,
            (std::vector<std::string>{"nx.example", "nodata.example", "fail.example",
                                      "refused.example", "fail.example", "refused.example"}));
  EXPECT_EQ(ask("fail.example").error, "SERVFAIL");
}

TEST_F(CachingResolverTest, ZeroTtlIsNotKept) {
  inner->table["zero.example"] = {LookupStatus::Ok, {"192.0.2.2"}, 0, ""};
  ask("zero.example");
  ask("zero.example");
  EXPECT_EQ(inner->asked.size(), 2u);
}

TEST_F(CachingResolverTest, TtlIsCappedAtOneHour) {
  inner->table["long.example"] = {LookupStatus::Ok, {"192.0.2.3"}, 86400, ""};
  ask("long.example");
  EXPECT_EQ(ask("long.example").ttl, CachingResolver::kMaxTtl);
  now += std::chrono::seconds(CachingResolver::kMaxTtl);
  ask("long.example");
  EXPECT_EQ(inner->asked.size(), 2u);
}

TEST_F(CachingResolverTest, TypeIsPartOfTheKeyAndCaseIsNot) {
  inner->table["Mixed.Example"] = {LookupStatus::Ok, {"x"}, 60, ""};
  ask("Mixed.Example", RrType::A);
  ask("mixed.example", RrType::A);
  ask("Mixed.Example", RrType::TXT);
  EXPECT_EQ(inner->asked, (std::vector<std::string>{"Mixed.Example", "Mixed.Example"}));
}

TEST_F(CachingResolverTest, LeastRecentlyUsedIsEvictedAtTheBound) {
  for (auto n : {"1.example", "2.example", "3.example", "4.example"})
    inner->table[n] = {LookupStatus::Ok, {"192.0.2.9"}, 60, ""};
  ask("1.example");
  ask("2.example");
  ask("3.example");
  ask("1.example");  // 1 is now the most recently used; 2 the least
  ask("4.example");  // evicts 2
  EXPECT_EQ(cache.size(), 3u);
  inner->asked.clear();
  ask("1.example");
  ask("3.example");
  ask("4.example");
  EXPECT_TRUE(inner->asked.empty());
  ask("2.example");
  EXPECT_EQ(inner->asked, std::vector<std::string>{"2.example"});
}

TEST_F(CachingResolverTest, ABatchAsksOnlyForWhatIsMissingAndKeepsTheOrder) {
  inner->table["a.example"] = {LookupStatus::Ok, {"192.0.2.1"}, 60, ""};
  inner->table["b.example"] = {LookupStatus::Ok, {"192.0.2.2"}, 60, ""};
  ask("a.example");
  inner->asked.clear();
  auto r = cache.lookupAll({{"b.example", RrType::A}, {"a.example", RrType::A}}, 100ms);
  EXPECT_EQ(inner->asked, std::vector<std::string>{"b.example"});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].records, std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(r[1].records, std::vector<std::string>{"192.0.2.1"});
}

TEST_F(CachingResolverTest, ExpiredAnswerIsServedStaleWhileTheServersFail) {
  inner->table["mx.example"] = {LookupStatus::Ok, {"10 smtp.mx.example"}, 60, ""};
  ask("mx.example");
  now += 61s;
  inner->table["mx.example"] = {LookupStatus::TempFail, {}, 0, "timed out after 100 ms"};
  uint64_t servedBefore = counterValue("dns.stale_answer");
  auto stale = ask("mx.example");  // asked again first: an answer that expired is not trusted
  EXPECT_EQ(inner->asked.size(), 2u);
  EXPECT_EQ(stale.status, LookupStatus::Ok);
  EXPECT_EQ(stale.records, std::vector<std::string>{"10 smtp.mx.example"});
  EXPECT_TRUE(stale.stale);
  EXPECT_EQ(stale.ttl, CachingResolver::kStaleTtl);
  EXPECT_EQ(counterValue("dns.stale_answer"), servedBefore + 1);
  now += 29s;  // the failing server is not asked again for 30 s
  EXPECT_TRUE(ask("mx.example").stale);
  EXPECT_EQ(inner->asked.size(), 2u);
  now += 1s;  // then it is, and once it answers the answer is fresh again
  inner->table["mx.example"] = {LookupStatus::Ok, {"20 new.mx.example"}, 60, ""};
  auto fresh = ask("mx.example");
  EXPECT_EQ(inner->asked.size(), 3u);
  EXPECT_FALSE(fresh.stale);
  EXPECT_EQ(fresh.records, std::vector<std::string>{"20 new.mx.example"});
  EXPECT_EQ(fresh.ttl, 60u);
}

TEST_F(CachingResolverTest, NegativeAnswersAreServedStaleToo) {
  inner->table["1.2.0.192.bl.example"] = {LookupStatus::NotFound, {}, 60, ""};
  ask("1.2.0.192.bl.example");
  now += 60s;
  inner->table["1.2.0.192.bl.example"] = {LookupStatus::TempFail, {}, 0, "SERVFAIL"};
  auto r = ask("1.2.0.192.bl.example");
  EXPECT_EQ(r.status, LookupStatus::NotFound);
  EXPECT_TRUE(r.stale);
}

TEST_F(CachingResolverTest, APermanentFailureIsNotHiddenByAStaleAnswer) {
  inner->table["a.example"] = {LookupStatus::Ok, {"192.0.2.1"}, 60, ""};
  ask("a.example");
  now += 61s;
  inner->table["a.example"] = {LookupStatus::PermFail, {}, 0, "REFUSED"};
  auto r = ask("a.example");
  EXPECT_EQ(r.status, LookupStatus::PermFail);
  EXPECT_FALSE(r.stale);
}

TEST_F(CachingResolverTest, StaleAnswersEndADayAfterTheyExpired) {
  inner->table["a.example"] = {LookupStatus::Ok, {"192.0.2.1"}, 60, ""};
  ask("a.example");
  inner->table["a.example"] = {LookupStatus::TempFail, {}, 0, "SERVFAIL"};
  now += 60s + std::chrono::seconds(CachingResolver::kMaxStale) - 10s;
  EXPECT_TRUE(ask("a.example").stale);  // kept 30 s more, but not past the day
  now += 10s;
  auto r = ask("a.example");
  EXPECT_EQ(r.status, LookupStatus::TempFail);
  EXPECT_EQ(r.error, "SERVFAIL");
  EXPECT_EQ(cache.size(), 0u);
}

// Issue 28: 10 DKIM signatures per message pointing at 60 KB TXT records took the daemon from
// 19 MB to 1.2 GB (20,000 entries of 60 KB). Now the bytes are bounded too.
TEST(CachingResolverBytes, ManyLargeAnswersStayUnderTheByteBound) {
  auto inner = std::make_shared<TableResolver>();
  std::chrono::steady_clock::time_point now{};
  constexpr size_t kBound = 1024 * 1024;
  CachingResolver cache(inner, 20000, kBound, [&] { return now; });
  uint64_t evictedBefore = counterValue("dns.cache_evicted");
  // One TXT record of 60,000 bytes (its character-strings concatenated): under the 64 KB an
  // answer may take, so each is kept, until the byte bound says otherwise.
  std::vector<std::string> big{std::string(60000, 'k')};
  for (int i = 0; i < 2000; ++i) {
    std::string name = "s" + std::to_string(i) + "._domainkey.example";
    inner->table[name] = {LookupStatus::Ok, big, 3600, ""};
    cache.lookup(name, RrType::TXT, 100ms);
    ASSERT_LE(cache.bytes(), kBound) << i;
  }
  size_t each = CachingResolver::entryBytes("s1999._domainkey.example/16",
                                            inner->table["s1999._domainkey.example"]);
  EXPECT_GT(each, 60000u);
  EXPECT_EQ(cache.size(), kBound / each);  // as many as fit
  EXPECT_EQ(cache.size(), 17u);
  EXPECT_EQ(counterValue("dns.cache_evicted"), evictedBefore + 2000 - kBound / each);
  // The most recent ones are the ones kept.
  inner->asked.clear();
  cache.lookup("s1999._domainkey.example", RrType::TXT, 100ms);
  EXPECT_TRUE(inner->asked.empty());
  cache.lookup("s0._domainkey.example", RrType::TXT, 100ms);
  EXPECT_EQ(inner->asked.size(), 1u);
}

TEST(CachingResolverBytes, AnAnswerOverTheEntryBoundIsPassedThroughButNotKept) {
  auto inner = std::make_shared<TableResolver>();
  CachingResolver cache(inner, 20000);
  uint64_t tooLargeBefore = counterValue("dns.cache_too_large");
  LookupResult huge{
      LookupStatus::Ok, {std::string(CachingResolver::kMaxEntryBytes, 'x')}, 3600, ""};
  inner->table["huge.example"] = huge;
  // A 2 KB DKIM key record and a few-KB TXT record are kept.
  inner->table["key.example"] = {LookupStatus::Ok, {std::string(2048, 'p')}, 3600, ""};
  inner->table["spf.example"] = {
      LookupStatus::Ok, {std::string(4000, 's'), "v=spf1 -all"}, 3600, ""};
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(cache.lookup("huge.example", RrType::TXT, 100ms).records, huge.records);
    cache.lookup("key.example", RrType::TXT, 100ms);
    cache.lookup("spf.example", RrType::TXT, 100ms);
  }
  EXPECT_EQ(inner->asked, (std::vector<std::string>{"huge.example", "key.example", "spf.example",
                                                    "huge.example"}));
  EXPECT_EQ(counterValue("dns.cache_too_large"), tooLargeBefore + 2);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_LT(cache.bytes(), 8000u);
}

TEST(CachingResolverBytes, ANewAnswerTooLargeReplacesTheOldOneWithNothing) {
  auto inner = std::make_shared<TableResolver>();
  std::chrono::steady_clock::time_point now{};
  CachingResolver cache(inner, 20000, CachingResolver::kDefaultMaxBytes, [&] { return now; });
  inner->table["a.example"] = {LookupStatus::Ok, {"small"}, 1, ""};
  cache.lookup("a.example", RrType::TXT, 100ms);
  EXPECT_GT(cache.bytes(), 0u);
  now += 2s;  // expired, but kept for serve-stale until the new answer comes
  inner->table["a.example"] = {LookupStatus::Ok, {std::string(100000, 'x')}, 60, ""};
  cache.lookup("a.example", RrType::TXT, 100ms);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(CachingResolverOff, ZeroEntriesKeepsNothing) {
  auto inner = std::make_shared<TableResolver>();
  inner->table["a.example"] = {LookupStatus::Ok, {"192.0.2.1"}, 60, ""};
  CachingResolver cache(inner, 0);
  cache.lookup("a.example", RrType::A, 100ms);
  cache.lookup("a.example", RrType::A, 100ms);
  EXPECT_EQ(inner->asked.size(), 2u);
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace mxguard::dns
