// ratelimit_stage_test.cpp - the ratelimit stage on the in-memory store with a fake clock: steady
// rate, burst once, the refusal with its retry time, IPv6 /64 aggregation, keys that expire,
// each counted event, exemptions, observe, a failing store, and configuration errors.
#include "stages/ratelimit/ratelimit_stage.h"

#include <gtest/gtest.h>

#include "base/log.h"
#include "config/config_file.h"
#include "core/engine.h"
#include "stage_test_support.h"
#include "store/memory_store.h"

namespace mxguard::testing {
namespace {

struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
};

// A store that cannot answer (Redis down).
class DownStore : public store::Store {
 public:
  store::StoreResult get(const std::string&) override { return {}; }
  store::StoreResult set(const std::string&, const std::string&, std::chrono::seconds) override {
    return {};
  }
  store::TokenResult takeToken(const std::string&, double, double, double) override {
    return {store::StoreStatus::Unavailable, false, 0, {}, "connection refused"};
  }
  store::GreylistResult greylist(const store::GreylistKeys&, const store::GreylistTimes&) override {
    store::GreylistResult r;  // Unavailable
    r.error = "connection refused";
    return r;
  }
  std::string describe() const override { return "down"; }
};

struct RateLimitTest : ::testing::Test {
  FakeClock clock;
  std::shared_ptr<store::MemoryStore> memory =
      std::make_shared<store::MemoryStore>(1000, [this] { return clock.now; });

  StageSharedPtr stage(const std::string& text, store::StoreSharedPtr s = nullptr) {
    auto file = config::ConfigFile::parse("[ratelimit]\n" + text, "test.conf");
    const auto* factory = stages::findStage("ratelimit");
    stages::StageContext ctx;
    ctx.store = s ? s : memory;
    return factory->create(file.section("ratelimit", factory->options()), ctx);
  }
  std::string error(const std::string& text) {
    try {
      stage(text);
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "no error";
  }
  Connection tx(const std::string& ip = "192.0.2.1", const std::string& sender = "a@example.org") {
    Connection t = clientTx(ip, "mail.example.org");
    t.message.senderSeen = true;
    t.message.sender = sender;
    return t;
  }
};

TEST_F(RateLimitTest, BurstOnceThenTheRateWithTheRetryTime) {
  auto s = stage("limit = mail key=client_ip count=messages rate=60/min burst=3\n");
  for (int i = 0; i < 3; ++i) {
    auto t = tx();
    auto d = s->onMail(t);
    EXPECT_EQ(d->action, Action::Pass) << i;
  }
  auto t = tx();
  auto refused = s->onMail(t);
  ASSERT_TRUE(refused && refused->reply);
  EXPECT_EQ(refused->action, Action::Tempfail);
  EXPECT_FALSE(refused->dependencyFailure);
  EXPECT_EQ(refused->reason, "ratelimit.mail");
  EXPECT_EQ(refused->reply->toSmtp(),
            "450 4.7.1 Error: too much mail from client 192.0.2.1 (limit \"mail\": 60/min "
            "messages, burst 3); try again in 1 second\r\n");
  EXPECT_EQ(refused->detail, "mail (client 192.0.2.1): refused, 0 of 3 left, retry in 1 second");
  clock.now += std::chrono::seconds(1);  // one token back
  auto again = tx();
  auto d = s->onMail(again);
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->detail, "mail (client 192.0.2.1): 0 of 3 left");
}

TEST_F(RateLimitTest, ARejectedClientDoesNotDrainBucketsKeyedOnWhatItForges) {
  auto s = stage(
      "limit = per_domain key=sender_domain count=messages rate=1/h burst=1\n"
      "limit = per_ip key=client_ip count=messages rate=1/h burst=5\n");
  for (int i = 0; i < 3; ++i) {
    auto t = tx("192.0.2.66", "forged@victim.example");
    t.rejectionHeld = true;  // the engine: a rejection of this client is held to RCPT
    auto d = s->onMail(t);
    EXPECT_EQ(d->action, Action::Pass) << i;
    EXPECT_EQ(d->detail,
              "per_domain: not counted (a rejection is held and the key is the client's to "
              "forge); per_ip (client 192.0.2.66): " +
                  std::to_string(4 - i) + " of 5 left")
        << i;
  }
  auto real = tx("198.51.100.1", "alice@victim.example");
  EXPECT_EQ(s->onMail(real)->action, Action::Pass) << "victim.example's bucket is untouched";
}

TEST_F(RateLimitTest, SlowRateSaysMinutesAndHours) {
  auto s = stage("limit = daily key=sender_domain count=messages rate=2/d burst=1\n");
  auto t1 = tx(), t2 = tx();
  s->onMail(t1);
  EXPECT_EQ(s->onMail(t2)->reply->text(),
            "Error: too much mail from sender domain example.org (limit \"daily\": 2/d messages, "
            "burst 1); try again in 12 hours");
}

TEST_F(RateLimitTest, Ipv6ClientsShareTheirSlash64) {
  auto s = stage("limit = mail key=client_ip count=messages rate=1/h burst=1\n");
  auto a = tx("2001:db8:1:2::10"), b = tx("2001:db8:1:2:ffff::1"), c = tx("2001:db8:1:3::1");
  EXPECT_EQ(s->onMail(a)->action, Action::Pass);
  auto refused = s->onMail(b);
  EXPECT_EQ(refused->action, Action::Tempfail);
  EXPECT_EQ(refused->detail,
            "mail (client network 2001:db8:1:2::/64): refused, 0 of 1 left, retry in 60 minutes");
  EXPECT_EQ(s->onMail(c)->action, Action::Pass);
  // ipv6_prefix=128 keys each address on its own.
  auto own = stage("limit = own key=client_ip count=messages rate=1/h burst=1 ipv6_prefix=128\n");
  auto d = tx("2001:db8:1:2::10"), e = tx("2001:db8:1:2::11");
  EXPECT_EQ(own->onMail(d)->action, Action::Pass);
  EXPECT_EQ(own->onMail(e)->action, Action::Pass);
}

TEST_F(RateLimitTest, KeysExpireByThemselves) {
  auto s = stage("limit = mail key=client_ip count=messages rate=10/min burst=5\n");
  auto t = tx();
  s->onMail(t);
  EXPECT_EQ(memory->get("rl:mail:192.0.2.1").status, store::StoreStatus::Ok);
  // Kept until full again: the one token taken is back in 6 s; an empty bucket would be kept 30.
  clock.now += std::chrono::milliseconds(5999);
  EXPECT_EQ(memory->get("rl:mail:192.0.2.1").status, store::StoreStatus::Ok);
  clock.now += std::chrono::milliseconds(1);
  EXPECT_EQ(memory->get("rl:mail:192.0.2.1").status, store::StoreStatus::NotFound);
}

// Issue 28: 110,000 messages from other addresses evicted a client's exhausted bucket from the
// 100,000-entry store, and the client was then accepted 5 of 5.
TEST_F(RateLimitTest, AFloodOfOtherClientsDoesNotResetAnExhaustedLimit) {
  memory = std::make_shared<store::MemoryStore>(100000, [this] { return clock.now; });
  auto s = stage("limit = mail key=client_ip count=messages rate=10/min burst=5\n");
  auto client = tx("192.0.2.1");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s->onMail(client)->action, Action::Pass);
  EXPECT_EQ(s->onMail(client)->action, Action::Tempfail);
  for (int i = 0; i < 110000; ++i) {
    if (i % 1000 == 0) clock.now += std::chrono::milliseconds(10);  // 1.1 s in all
    auto other = tx("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                    std::to_string(i % 256));
    ASSERT_EQ(s->onMail(other)->action, Action::Pass) << i;
  }
  EXPECT_EQ(memory->size(), 100000u);
  int accepted = 0;
  for (int i = 0; i < 5; ++i) accepted += s->onMail(client)->action == Action::Pass;
  EXPECT_EQ(accepted, 0);
}

// What a refused event leaves in the store: the refusing limit's bucket existed already (a new
// bucket is full, and no cost exceeds the capacity), and the limits after it are not taken, so
// a refusal creates no key. The limits before it keep their take: the attempt counted.
TEST_F(RateLimitTest, ARefusalCreatesNoKeyAndLaterLimitsAreNotTaken) {
  auto s = stage(
      "limit = ip key=client_ip count=messages rate=100/h burst=10\n"
      "limit = domain key=sender_domain count=messages rate=1/h burst=1\n"
      "limit = sender key=sender count=messages rate=100/h burst=10\n");
  auto first = tx("192.0.2.1", "a@example.org");
  EXPECT_EQ(s->onMail(first)->action, Action::Pass);
  EXPECT_EQ(memory->size(), 3u);
  auto second = tx("192.0.2.2", "b@example.org");
  auto refused = s->onMail(second);
  EXPECT_EQ(refused->reason, "ratelimit.domain");
  EXPECT_EQ(refused->detail,
            "ip (client 192.0.2.2): 9 of 10 left; domain (sender domain example.org): refused, 0 "
            "of 1 left, retry in 60 minutes");
  EXPECT_EQ(memory->get("rl:sender:b@example.org").status, store::StoreStatus::NotFound);
  EXPECT_EQ(memory->get("rl:ip:192.0.2.2").status, store::StoreStatus::Ok);
  EXPECT_EQ(memory->size(), 4u);
}

TEST_F(RateLimitTest, ConnectionsGet421InPostfixWording) {
  auto s = stage("limit = conn key=client_network count=connections rate=2/min burst=2\n");
  for (const char* ip : {"192.0.2.1", "192.0.2.2"}) {
    auto t = tx(ip);
    EXPECT_EQ(s->onConnect(t)->action, Action::Pass);
  }
  auto t = tx("192.0.2.3");
  EXPECT_EQ(s->onConnect(t)->reply->toSmtp(),
            "421 4.7.0 mx.example.net Error: too many connections from client network "
            "192.0.2.0/24 (limit \"conn\": 2/min, burst 2); try again in 30 seconds\r\n");
}

TEST_F(RateLimitTest, RecipientsAndBytes) {
  auto s = stage(
      "limit = rcpt key=sender count=recipients rate=100/h burst=2\n"
      "limit = size key=client_ip count=bytes rate=1M/h burst=1000\n");
  auto t = tx();
  EXPECT_EQ(s->onMail(t), std::nullopt);  // no limit counts messages
  EXPECT_EQ(s->onRcpt(t, "x@example.net")->detail, "rcpt (sender a@example.org): 1 of 2 left");
  s->onRcpt(t, "y@example.net");
  EXPECT_EQ(s->onRcpt(t, "z@example.net")->reply->text(),
            "Error: too many recipients from sender a@example.org (limit \"rcpt\": 100/h "
            "recipients, burst 2); try again in 36 seconds");
  t.message.bodyBytes = 900;
  t.message.headers = {{"Subject", "0123456789"}};  // 7 + 10 + 4 bytes
  EXPECT_EQ(s->onEom(t)->detail, "size (client 192.0.2.1): 79 of 1000 left");
  EXPECT_EQ(s->onEom(t)->reply->text(),
            "Error: too much mail from client 192.0.2.1 (limit \"size\": 1M/h bytes, burst "
            "1000); try again in 3 seconds");
}

TEST_F(RateLimitTest, CombinedKeysAndExemptions) {
  auto s = stage(
      "limit = pair key=sender_domain+client_ip count=messages rate=1/h burst=1 "
      "exempt_clients=198.51.100.0/24 exempt_sender_domains=partner.example\n");
  auto a = tx("192.0.2.1", "a@example.org");
  EXPECT_EQ(s->onMail(a)->detail,
            "pair (sender domain example.org, client 192.0.2.1): 0 of 1 left");
  auto other = tx("192.0.2.2", "a@example.org");
  EXPECT_EQ(s->onMail(other)->action, Action::Pass);  // another client: another bucket
  auto exemptNet = tx("198.51.100.7", "a@example.org");
  EXPECT_EQ(s->onMail(exemptNet)->detail,
            "pair: not applied (client in exempt_clients 198.51.100.0/24)");
  auto exemptDomain = tx("192.0.2.1", "x@lists.partner.example");
  EXPECT_EQ(s->onMail(exemptDomain)->detail,
            "pair: not applied (sender domain in exempt_sender_domains partner.example)");
  auto authed = tx("192.0.2.1");
  authed.client.authUser = "alice";
  EXPECT_EQ(s->onMail(authed)->detail, "pair: not applied (authenticated client)");
  auto users = stage("limit = u key=auth_user count=messages rate=1/h exempt_authenticated=no\n");
  EXPECT_EQ(users->onMail(authed)->detail, "u (user alice): 0 of 1 left");
  auto anon = tx();
  EXPECT_EQ(users->onMail(anon)->detail, "u: not applied (not authenticated)");
}

TEST_F(RateLimitTest, ObservedLimitNeverRefusesButLogs) {
  std::vector<std::string> logs;
  setLogSink([&](LogLevel, std::string_view m) { logs.emplace_back(m); });
  auto s = stage("limit = trial key=client_ip count=messages rate=1/h burst=1 mode=observe\n");
  auto a = tx(), b = tx();
  s->onMail(a);
  auto d = s->onMail(b);
  setLogSink(nullptr);
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->detail,
            "trial (client 192.0.2.1): refused, 0 of 1 left, retry in 60 minutes (observe: not "
            "enforced)");
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0],
            "ratelimit: limit trial (observe mode) would reply: 450 4.7.1 Error: too much mail "
            "from client 192.0.2.1 (limit \"trial\": 1/h messages, burst 1); try again in 60 "
            "minutes");
}

TEST_F(RateLimitTest, PerLimitReply) {
  auto s = stage(
      "limit = mail key=client_ip count=messages rate=1/h burst=1\n"
      "limit_reply = mail 451 4.7.1 Slow down, ${client_address}: ${retry_seconds} s\n");
  auto a = tx(), b = tx();
  s->onMail(a);
  EXPECT_EQ(s->onMail(b)->reply->toSmtp(), "451 4.7.1 Slow down, 192.0.2.1: 3600 s\r\n");
}

TEST_F(RateLimitTest, StoreDownIsADependencyFailure) {
  auto s =
      stage("limit = mail key=client_ip count=messages rate=1/h\n", std::make_shared<DownStore>());
  auto t = tx();
  auto d = s->onMail(t);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "ratelimit.store_failure");
  EXPECT_EQ(d->reply->toSmtp(),
            "451 4.3.0 Temporary failure: rate limit state unavailable; try again later\r\n");
  EXPECT_EQ(d->detail, "mail (client 192.0.2.1): store unavailable (connection refused)");
}

TEST_F(RateLimitTest, ConnectionLimitClosesAtHeloThroughTheEngine) {
  auto policy = std::make_shared<Policy>();
  StageEntry e;
  e.stage = stage("limit = conn key=client_ip count=connections rate=1/h burst=1\n");
  e.phases = PhaseSet{Phase::Connect, Phase::Mail, Phase::Rcpt, Phase::Eom};
  policy->stages.push_back(e);
  auto connect = [&] {
    auto s = std::make_unique<Engine>(policy);
    s->connection().client.clientIp = IpAddress::parse("192.0.2.1");
    s->connection().client.clientAddress = "192.0.2.1";
    s->connection().client.ourHostname = "mx.example.net";
    s->connect();
    return s;
  };
  EXPECT_EQ(connect()->helo("a.example.org").action, Action::Pass);
  auto second = connect();
  Verdict v = second->helo("a.example.org");  // not held to RCPT: 421 closes now
  ASSERT_TRUE(v.reply);
  EXPECT_EQ(v.reply->toSmtp(),
            "421 4.7.0 mx.example.net Error: too many connections from client 192.0.2.1 (limit "
            "\"conn\": 1/h, burst 1); try again in 60 minutes\r\n");
}

TEST_F(RateLimitTest, ConfigErrorsNameTheWord) {
  auto e = [&](const std::string& line) { return error("limit = " + line + "\n"); };
  const std::string at = "test.conf:2: ratelimit.limit: ";
  EXPECT_EQ(e("m key=client_ip count=messages rate=0/h"),
            at + "rate='0/h': write a positive number per unit, e.g. 100/h, 30/min, 10M/d (units: "
                 "s, min, h, d)");
  EXPECT_EQ(e("m key=client_ip count=messages rate=-5/h"),
            at + "rate='-5/h': write a positive number per unit, e.g. 100/h, 30/min, 10M/d "
                 "(units: s, min, h, d)");
  EXPECT_EQ(e("m key=client_ip count=messages rate=10/fortnight"),
            at + "rate='10/fortnight': write a positive number per unit, e.g. 100/h, 30/min, "
                 "10M/d (units: s, min, h, d)");
  EXPECT_EQ(e("m key=client_ip count=messages rate=1e12/s"), at + "rate='1e12/s' is absurdly high");
  EXPECT_EQ(e("m key=client_ip count=messages rate=10/h burst=0"),
            at + "burst='0': a whole number of at least 1");
  EXPECT_EQ(e("m key=client_ip count=messages rate=10/h burst=-3"),
            at + "burst='-3': a whole number of at least 1");
  EXPECT_EQ(e("m key=client_ip+recipient count=messages rate=10/h"),
            at + "unknown key field 'recipient' (known: client_ip, client_network, sender, "
                 "sender_domain, auth_user, helo)");
  EXPECT_EQ(e("m key=sender count=connections rate=10/h"),
            at + "count=connections can only be keyed by client_ip or client_network (nothing "
                 "else is known when a client connects)");
  EXPECT_EQ(e("m key=client_ip count=mails rate=10/h"),
            at + "count='mails': use connections, messages, recipients or bytes");
  EXPECT_EQ(e("m count=messages rate=10/h"), at + "no key= (e.g. key=client_ip)");
  EXPECT_EQ(e("m key=client_ip count=messages rate=10/h speed=2"),
            at + "unknown setting 'speed' (known: key, count, rate, burst, ipv4_prefix, "
                 "ipv6_prefix, exempt_clients, exempt_authenticated, exempt_sender_domains, "
                 "mode)");
  EXPECT_EQ(error("limit = m key=client_ip count=messages rate=1/h\n"
                  "limit = m key=sender count=messages rate=1/h\n"),
            "test.conf:3: ratelimit.limit: limit 'm' is defined twice");
  EXPECT_EQ(error("limit = m key=client_ip count=messages rate=1/h\nlimit_reply = n 450 4.7.1 x\n"),
            "test.conf:3: ratelimit.limit_reply: 'n' is not one of the configured limits");
  EXPECT_EQ(error(""),
            "test.conf:1: ratelimit.limit: no limit configured: add e.g. 'limit = mail_per_ip "
            "key=client_ip count=messages rate=100/h burst=20'");
}

}  // namespace
}  // namespace mxguard::testing
