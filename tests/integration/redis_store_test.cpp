// redis_store_test.cpp - the Redis Store against a real redis-server started on a free loopback
// port: TTLs, namespacing, two stores sharing one Redis (a fleet), Redis killed and restarted
// (fail fast, log once, recover by itself), a Redis that stalls (bounded by the timeout), and the
// greylisting step (the same rule sequences as the memory store, one EVALSHA per call).
#include "store/redis_store.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "base/log.h"
#include "prerequisite.h"
#include "unit/store/greylist_sequence.h"

namespace mxguard::store {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class RedisServer {
 public:
  explicit RedisServer(int port) : port_(port) { start(); }
  ~RedisServer() { stop(); }
  void start() {
    pid_ = fork();
    if (pid_ == 0) {
      std::string port = std::to_string(port_);
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "/dev/null",
             "--enable-debug-command", "local", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 100; ++i) {  // until it answers PING
      redisContext* c = redisConnect("127.0.0.1", port_);
      bool up = c && !c->err;
      if (c) redisFree(c);
      if (up) return;
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
};

struct RedisStoreTest : ::testing::Test {
  void SetUp() override {
    MXGUARD_REQUIRE(system("command -v redis-server >/dev/null 2>&1") == 0,
                    "redis-server is not installed");
    server = std::make_unique<RedisServer>(freePort());
    setLogSink([this](LogLevel, std::string_view m) {
      std::lock_guard g(logMutex);
      logs.emplace_back(m);
    });
  }
  void TearDown() override { setLogSink(nullptr); }
  RedisOptions options(milliseconds timeout = milliseconds(200)) {
    RedisOptions o;
    o.port = server->port();
    o.timeout = timeout;
    o.retryAfter = milliseconds(300);
    return o;
  }
  std::unique_ptr<RedisServer> server;
  std::mutex logMutex;
  std::vector<std::string> logs;
};

TEST_F(RedisStoreTest, GetSetTtlAndNamespacedKeys) {
  RedisStore store(options());
  EXPECT_EQ(store.get("addr:a@example.net").status, StoreStatus::NotFound);
  EXPECT_EQ(
      store.set("addr:a@example.net", std::string("ok\0bin", 6), std::chrono::seconds(1)).status,
      StoreStatus::Ok);
  auto r = store.get("addr:a@example.net");
  EXPECT_EQ(r.status, StoreStatus::Ok);
  EXPECT_EQ(r.value, std::string("ok\0bin", 6));
  redisContext* raw = redisConnect("127.0.0.1", server->port());
  auto* reply = static_cast<redisReply*>(redisCommand(raw, "EXISTS mxguard:v1:addr:a@example.net"));
  EXPECT_EQ(reply->integer, 1);
  freeReplyObject(reply);
  redisFree(raw);
  std::this_thread::sleep_for(milliseconds(1100));
  EXPECT_EQ(store.get("addr:a@example.net").status, StoreStatus::NotFound);
}

// The callout stage reads an address and its domain together: one MGET, each key answered in
// its place, absent and non-string keys as NotFound.
TEST_F(RedisStoreTest, GetManyAnswersEachKeyInOneRoundTrip) {
  RedisStore store(options());
  ASSERT_EQ(
      store.set("addr:b@example.net", std::string("x\0y", 3), std::chrono::seconds(60)).status,
      StoreStatus::Ok);
  ASSERT_EQ(store.takeToken("bucket", 10, 1).status, StoreStatus::Ok);  // a hash, not a string
  redisContext* raw = redisConnect("127.0.0.1", server->port());
  freeReplyObject(redisCommand(raw, "CONFIG RESETSTAT"));
  auto r = store.getMany({"domain:example.net", "addr:b@example.net", "bucket"});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].status, StoreStatus::NotFound);
  EXPECT_EQ(r[1].status, StoreStatus::Ok);
  EXPECT_EQ(r[1].value, std::string("x\0y", 3));
  EXPECT_EQ(r[2].status, StoreStatus::NotFound);
  auto* stats = static_cast<redisReply*>(redisCommand(raw, "INFO commandstats"));
  std::string info(stats->str, stats->len);
  freeReplyObject(stats);
  redisFree(raw);
  EXPECT_NE(info.find("cmdstat_mget:calls=1,"), std::string::npos) << info;
  EXPECT_EQ(info.find("cmdstat_get:"), std::string::npos) << info;
  server->stop();
  auto down = store.getMany({"a", "b"});
  ASSERT_EQ(down.size(), 2u);
  EXPECT_EQ(down[0].status, StoreStatus::Unavailable);
  EXPECT_EQ(down[1].status, StoreStatus::Unavailable);
  EXPECT_FALSE(down[1].error.empty());
}

TEST_F(RedisStoreTest, TwoStoresOnOneRedisShareResultsAndBuckets) {
  RedisStore first(options()), second(options());
  first.set("domain:example.net", "accept-all", std::chrono::seconds(60));
  EXPECT_EQ(second.get("domain:example.net").value, "accept-all");
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    allowed += first.takeToken("probe:example.net", 5, 0.001).allowed;
    allowed += second.takeToken("probe:example.net", 5, 0.001).allowed;
  }
  EXPECT_EQ(allowed, 5);
}

TEST_F(RedisStoreTest, WeightedTakeRetryTimeAndScriptReloadAfterFlush) {
  RedisStore store(options());
  EXPECT_TRUE(store.takeToken("bytes:a", 1000, 100, 600).allowed);
  auto refused = store.takeToken("bytes:a", 1000, 100, 600);
  EXPECT_FALSE(refused.allowed);
  EXPECT_NEAR(refused.remaining, 400, 5);
  EXPECT_GE(refused.retryAfter.count(), 1900);  // 200 tokens at 100/s
  EXPECT_LE(refused.retryAfter.count(), 2000);
  // The server forgets its scripts (as after a restart): the store loads it again by itself.
  redisContext* raw = redisConnect("127.0.0.1", server->port());
  freeReplyObject(redisCommand(raw, "SCRIPT FLUSH"));
  redisFree(raw);
  auto again = store.takeToken("bytes:b", 1000, 100, 1);
  EXPECT_EQ(again.status, StoreStatus::Ok) << again.error;
  EXPECT_TRUE(again.allowed);
}

// Regression: with several pooled connections, each dead one used to fail once more after the
// restart and restart the fail-fast window, so recovery took one window per connection.
TEST_F(RedisStoreTest, RestartWithSeveralPooledConnectionsRecoversAfterOneWindow) {
  RedisOptions o = options();
  o.retryAfter = milliseconds(300);
  RedisStore store(o);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)  // four connections in the pool
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) store.takeToken("t", 1000, 1000);
    });
  for (auto& t : threads) t.join();
  server->stop();
  EXPECT_EQ(store.takeToken("t", 1000, 1000).status, StoreStatus::Unavailable);
  server->start();
  std::this_thread::sleep_for(milliseconds(350));
  auto r = store.takeToken("t", 1000, 1000);
  EXPECT_EQ(r.status, StoreStatus::Ok) << r.error;
}

TEST_F(RedisStoreTest, RedisDownFailsFastLogsOnceAndRecovers) {
  RedisStore store(options());
  ASSERT_EQ(store.set("k", "v", std::chrono::seconds(60)).status, StoreStatus::Ok);
  server->stop();
  auto start = Clock::now();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(store.get("k").status, StoreStatus::Unavailable);
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  EXPECT_LT(ms, 1000) << "20 calls while Redis is down must not each wait";
  {
    std::lock_guard g(logMutex);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_NE(
        logs[0].find("store: redis 127.0.0.1:" + std::to_string(server->port()) + " unavailable ("),
        std::string::npos)
        << logs[0];
  }
  server->start();
  std::this_thread::sleep_for(milliseconds(400));  // past retryAfter
  EXPECT_EQ(store.set("k", "v2", std::chrono::seconds(60)).status, StoreStatus::Ok);
  EXPECT_EQ(store.get("k").value, "v2");
  std::lock_guard g(logMutex);
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[1], "store: redis 127.0.0.1:" + std::to_string(server->port()) + " is back");
}

TEST_F(RedisStoreTest, StalledRedisIsBoundedByTheTimeout) {
  RedisStore store(options(milliseconds(200)));
  ASSERT_EQ(store.set("k", "v", std::chrono::seconds(60)).status, StoreStatus::Ok);
  std::thread stall([port = server->port()] {
    redisContext* c = redisConnect("127.0.0.1", port);
    auto* r = static_cast<redisReply*>(redisCommand(c, "DEBUG SLEEP 1.5"));
    if (r) freeReplyObject(r);
    redisFree(c);
  });
  std::this_thread::sleep_for(milliseconds(100));
  auto start = Clock::now();
  auto r = store.get("k");
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  stall.join();
  EXPECT_EQ(r.status, StoreStatus::Unavailable);
  EXPECT_LT(ms, 700);
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(store.get("k").value, "v");  // a fresh connection after the broken one was dropped
}

// The same rule sequences as the memory store (tests/unit/store/greylist_sequence.h).
TEST_F(RedisStoreTest, GreylistRulesAsInMemory) {
  RedisStore store(options());
  greylist_sequence::firstRetryKnownAndExpiredWindow(store);
  greylist_sequence::autoAllowAfterPasses(store);
  greylist_sequence::autoAllowNever(store);
  greylist_sequence::zeroDelayPassesAtOnce(store);
  greylist_sequence::negativeElapsedCountsAsZero(store);
}

long long redisTtl(int port, const std::string& key) {
  redisContext* raw = redisConnect("127.0.0.1", port);
  auto* r = static_cast<redisReply*>(redisCommand(raw, "TTL %s", key.c_str()));
  long long ttl = r ? r->integer : -3;
  if (r) freeReplyObject(r);
  redisFree(raw);
  return ttl;
}

// Two MX hosts on one Redis: the first attempt reaches A, the retry B; B lets it through. The keys
// carry the store's prefix and the TTLs asked for.
TEST_F(RedisStoreTest, GreylistedAtOneHostPassesAtAnother) {
  using greylist_sequence::at;
  using greylist_sequence::kT0;
  RedisStore a(options()), b(options());
  GreylistTimes t;
  t.autoAllowAfter = 2;
  auto k = greylist_sequence::keysFor("192.0.2.0/24", "a@example.org>b@example.net");
  auto r = a.greylist(k, at(kT0, t));
  ASSERT_EQ(r.status, StoreStatus::Ok) << r.error;
  EXPECT_EQ(r.verdict, GreylistVerdict::Greylisted);
  EXPECT_TRUE(r.firstAttempt);
  EXPECT_NEAR(redisTtl(server->port(), "mxguard:v1:" + k.triplet), 172800, 5);
  r = b.greylist(k, at(kT0 + 100, t));
  EXPECT_EQ(r.verdict, GreylistVerdict::Greylisted);
  EXPECT_EQ(r.waitLeft, std::chrono::seconds(200));
  EXPECT_FALSE(r.firstAttempt);
  r = b.greylist(k, at(kT0 + 301, t));
  EXPECT_EQ(r.verdict, GreylistVerdict::PassedRetry);
  EXPECT_EQ(r.waited, std::chrono::seconds(301));
  EXPECT_EQ(a.get(k.triplet).value, std::to_string(kT0) + ":1");
  EXPECT_NEAR(redisTtl(server->port(), "mxguard:v1:" + k.triplet), 3024000, 5);
  EXPECT_NEAR(redisTtl(server->port(), "mxguard:v1:" + k.network), 3024000, 5);
  r = a.greylist(k, at(kT0 + 302, t));
  EXPECT_EQ(r.verdict, GreylistVerdict::Known);
  EXPECT_TRUE(r.nowAutoAllowed);
  EXPECT_NEAR(redisTtl(server->port(), "mxguard:v1:" + k.autoAllow), 3024000, 5);
  EXPECT_EQ(redisTtl(server->port(), "mxguard:v1:" + k.network), -2);  // counter no longer needed
  EXPECT_EQ(b.greylist(k, at(kT0 + 303, t)).verdict, GreylistVerdict::AutoAllowed);
}

// Zero TTLs would make Redis refuse EX 0 / EXPIRE 0 deletes the key: both raised to 1 s.
TEST_F(RedisStoreTest, GreylistZeroTtlsAreOneSecond) {
  RedisStore store(options());
  GreylistTimes t;
  t.now = greylist_sequence::kT0;
  t.retryWindow = t.passTtl = t.autoAllowTtl = std::chrono::seconds(0);
  t.delay = std::chrono::seconds(0);
  auto k = greylist_sequence::keysFor("192.0.2.0/24", "a>b");
  auto r = store.greylist(k, t);
  ASSERT_EQ(r.status, StoreStatus::Ok) << r.error;
  EXPECT_EQ(r.verdict, GreylistVerdict::PassedRetry);
  EXPECT_EQ(redisTtl(server->port(), "mxguard:v1:" + k.triplet), 1);
  EXPECT_EQ(redisTtl(server->port(), "mxguard:v1:" + k.network), 1);
}

// The commands Redis received from clients while `body` ran (MONITOR; those a script issued,
// tagged "lua", left out).
std::vector<std::string> clientCommands(int port, const std::function<void()>& body) {
  redisContext* monitor = redisConnect("127.0.0.1", port);
  timeval tv{2, 0};
  redisSetTimeout(monitor, tv);
  freeReplyObject(redisCommand(monitor, "MONITOR"));
  body();
  redisContext* raw = redisConnect("127.0.0.1", port);
  freeReplyObject(redisCommand(raw, "ECHO end-of-body"));
  redisFree(raw);
  std::vector<std::string> lines;
  void* reply = nullptr;
  while (redisGetReply(monitor, &reply) == REDIS_OK && reply) {
    auto* r = static_cast<redisReply*>(reply);
    std::string line(r->str, r->len);
    freeReplyObject(r);
    if (line.find("end-of-body") != std::string::npos) break;
    if (line.find(" lua] ") == std::string::npos) lines.push_back(line);
  }
  redisFree(monitor);
  return lines;
}

TEST_F(RedisStoreTest, GreylistIsOneEvalshaPerCall) {
  using greylist_sequence::at;
  using greylist_sequence::kT0;
  RedisStore store(options());
  auto k = greylist_sequence::keysFor("192.0.2.0/24", "a>b");
  ASSERT_EQ(store.greylist(k, at(kT0)).status, StoreStatus::Ok);  // SCRIPT LOAD happens here
  auto lines = clientCommands(server->port(), [&] {
    EXPECT_EQ(store.greylist(k, at(kT0 + 1)).verdict, GreylistVerdict::Greylisted);
    EXPECT_EQ(store.greylist(k, at(kT0 + 400)).verdict, GreylistVerdict::PassedRetry);
    EXPECT_EQ(store.greylist(k, at(kT0 + 401)).verdict, GreylistVerdict::Known);
  });
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& l : lines) EXPECT_NE(l.find("\"EVALSHA\""), std::string::npos) << l;
  // The server lost its scripts (a restart): loaded again, the call still answered.
  redisContext* raw = redisConnect("127.0.0.1", server->port());
  freeReplyObject(redisCommand(raw, "SCRIPT FLUSH"));
  redisFree(raw);
  auto r = store.greylist(k, at(kT0 + 402));
  EXPECT_EQ(r.status, StoreStatus::Ok) << r.error;
  EXPECT_EQ(r.verdict, GreylistVerdict::Known);
}

TEST_F(RedisStoreTest, GreylistConcurrentHostsCountExactly) {
  using greylist_sequence::at;
  using greylist_sequence::kT0;
  RedisStore a(options()), b(options());
  GreylistTimes t;
  t.autoAllowAfter = 0;
  auto k = greylist_sequence::keysFor("192.0.2.0/24", "a>b");
  a.greylist(k, at(kT0, t));
  std::atomic<int> passed{0}, known{0};
  std::vector<std::thread> threads;
  for (int n = 0; n < 4; ++n)
    threads.emplace_back([&, n] {
      RedisStore& s = n % 2 ? a : b;
      for (int i = 0; i < 25; ++i) {
        auto r = s.greylist(k, at(kT0 + 301, t));
        passed += r.verdict == GreylistVerdict::PassedRetry;
        known += r.verdict == GreylistVerdict::Known;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(passed, 1);
  EXPECT_EQ(known, 99);
  EXPECT_EQ(a.get(k.network).value, "100");
}

TEST_F(RedisStoreTest, GreylistRedisDownOrStalledIsUnavailableWithinTheTimeout) {
  RedisStore store(options(milliseconds(200)));
  auto k = greylist_sequence::keysFor("192.0.2.0/24", "a>b");
  ASSERT_EQ(store.greylist(k, greylist_sequence::at(greylist_sequence::kT0)).status,
            StoreStatus::Ok);
  std::thread stall([port = server->port()] {
    redisContext* c = redisConnect("127.0.0.1", port);
    auto* r = static_cast<redisReply*>(redisCommand(c, "DEBUG SLEEP 1.5"));
    if (r) freeReplyObject(r);
    redisFree(c);
  });
  std::this_thread::sleep_for(milliseconds(100));
  auto start = Clock::now();
  auto r = store.greylist(k, greylist_sequence::at(greylist_sequence::kT0 + 1));
  auto ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  stall.join();
  EXPECT_EQ(r.status, StoreStatus::Unavailable);
  EXPECT_EQ(r.error, "timed out");
  EXPECT_LT(ms, 700);

  std::this_thread::sleep_for(milliseconds(400));  // past retryAfter
  server->stop();
  start = Clock::now();
  r = store.greylist(k, greylist_sequence::at(greylist_sequence::kT0 + 2));
  ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();
  EXPECT_EQ(r.status, StoreStatus::Unavailable);
  EXPECT_FALSE(r.error.empty());
  EXPECT_LT(ms, 500);
  std::this_thread::sleep_for(milliseconds(400));  // past retryAfter: a real connect attempt
  r = store.greylist(k, greylist_sequence::at(greylist_sequence::kT0 + 3));
  EXPECT_EQ(r.status, StoreStatus::Unavailable);
  EXPECT_NE(r.error.find("connect: "), std::string::npos) << r.error;
}

TEST(RedisStoreNoServer, NothingListeningIsUnavailableNotAHang) {
  RedisOptions o;
  o.port = freePort();
  o.timeout = milliseconds(200);
  setLogSink([](LogLevel, std::string_view) {});
  RedisStore store(o);
  auto start = Clock::now();
  auto r = store.takeToken("x", 1, 1);
  setLogSink(nullptr);
  EXPECT_EQ(r.status, StoreStatus::Unavailable);
  EXPECT_NE(r.error.find("connect: "), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 500);
}

}  // namespace
}  // namespace mxguard::store
