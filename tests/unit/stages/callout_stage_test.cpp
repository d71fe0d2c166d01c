// callout_stage_test.cpp - sender verification with a scripted probe, the real in-memory store
// and a FakeResolver: every outcome's exact reply, the cache ("(cached)", no second probe),
// accept-all domains, null MX, MX order, refused targets, single-flight, a store that is down, a
// probe that throws, and probe caps and single-flight that outlive a reload; hostile senders
// (control bytes, RFC 5321 lengths), bounded cache keys and values, connection-attempt caps.
#include "stages/callout/callout_stage.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "fakes/fake_smtp_probe.h"
#include "stage_test_support.h"
#include "store/memory_store.h"

namespace mxguard::testing {
namespace {

using dns::RrType;
using smtp::ProbeOutcome;

class DownStore : public store::Store {
 public:
  store::StoreResult get(const std::string&) override {
    return {store::StoreStatus::Unavailable, "", "connect: Connection refused"};
  }
  store::StoreResult set(const std::string&, const std::string&, std::chrono::seconds) override {
    return {store::StoreStatus::Unavailable, "", "connect: Connection refused"};
  }
  store::TokenResult takeToken(const std::string&, double, double, double) override { return {}; }
  store::GreylistResult greylist(const store::GreylistKeys&, const store::GreylistTimes&) override {
    store::GreylistResult r;  // Unavailable
    r.error = "connect: Connection refused";
    return r;
  }
  std::string describe() const override { return "down"; }
};

// The real in-memory store, recording every key asked for or written (hostile senders must not
// reach it; long ones must reach it through bounded keys).
class RecordingStore : public store::MemoryStore {
 public:
  store::StoreResult get(const std::string& key) override {
    keys.push_back(key);
    return MemoryStore::get(key);
  }
  std::vector<store::StoreResult> getMany(const std::vector<std::string>& ks) override {
    keys.insert(keys.end(), ks.begin(), ks.end());
    return MemoryStore::getMany(ks);
  }
  store::StoreResult set(const std::string& key, const std::string& value,
                         std::chrono::seconds ttl) override {
    keys.push_back(key);
    values.push_back(value);
    return MemoryStore::set(key, value, ttl);
  }
  store::TokenResult takeToken(const std::string& key, double capacity, double refill,
                               double cost) override {
    keys.push_back(key);
    return MemoryStore::takeToken(key, capacity, refill, cost);
  }
  std::vector<std::string> keys, values;
};

// Holds the first probe, once started, until `release` is counted down: what other checks get
// while a probe is in flight.
struct FirstProbeHeld {
  explicit FirstProbeHeld(FakeSmtpProbe& probe) {
    probe.onProbe = [this](const std::string&) {
      if (!first.exchange(false)) return;
      started.count_down();
      release.wait();
    };
  }
  std::latch started{1}, release{1};
  std::atomic<bool> first{true};
};

struct CalloutTest : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
  std::shared_ptr<FakeSmtpProbe> probe = std::make_shared<FakeSmtpProbe>();
  std::shared_ptr<store::Store> store = std::make_shared<store::MemoryStore>();
  // Null: the process-wide coordinator, as the policy loader leaves it.
  std::shared_ptr<stages::CalloutProbes> probes;

  void SetUp() override {
    dns->answer("sender.example", RrType::MX, {"20 mx2.sender.example", "10 mx1.sender.example"})
        .answer("mx1.sender.example", RrType::A, {"198.51.100.1"})
        .answer("mx2.sender.example", RrType::A, {"198.51.100.2"});
  }
  // The fixture's MX hosts are on documentation addresses (198.51.100.0/24), which count as
  // non-public: allowed here unless a test says allow_private itself.
  StageSharedPtr stage(const std::string& config = "") {
    std::string allow =
        config.find("allow_private") == std::string::npos ? "allow_private = yes\n" : "";
    auto file = config::ConfigFile::parse("[callout]\n" + allow + config, "test.conf");
    const auto* factory = stages::findStage("callout");
    stages::StageContext ctx;
    ctx.resolver = dns;
    ctx.store = store;
    ctx.probe = probe;
    ctx.ourHostname = "mx.example.net";
    ctx.calloutProbes = probes;
    return factory->create(file.section("callout", factory->options()), ctx);
  }
  Findings check(const StageSharedPtr& s, const std::string& sender) {
    auto tx = clientTx("203.0.113.9", "mail.sender.example");
    tx.message.sender = sender;
    auto found = s->onMail(tx);  // the callout reports one finding per check
    if (!found) return std::nullopt;
    return *found;
  }
};

TEST_F(CalloutTest, RejectedAddressQuotesTheRemoteAndIsCached) {
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550,
                {"5.1.1 <bob@sender.example>: Recipient address rejected: User unknown"});
  auto s = stage();
  auto d = check(s, "bob@sender.example");
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.1.7 <bob@sender.example>: Sender address rejected: undeliverable address: host "
            "mx1.sender.example[198.51.100.1] said: 550 5.1.1 <bob@sender.example>: Recipient "
            "address rejected: User unknown (in reply to RCPT TO command)\r\n");
  EXPECT_EQ(d->reason, "callout.reject");
  EXPECT_NE(d->detail.find("dialogue: connect mx1.sender.example[198.51.100.1]:25"),
            std::string::npos);

  auto again = check(s, "Bob@Sender.Example");
  ASSERT_TRUE(again && again->reply);
  EXPECT_EQ(probe->probes, 1) << "the second check must come from the cache";
  EXPECT_EQ(again->reason, "callout.cached_reject");
  EXPECT_EQ(again->detail.substr(0, 9), "(cached) ");
  std::string text = again->reply->text();
  EXPECT_EQ(text.substr(0, text.find("; cached result")),
            "<Bob@Sender.Example>: Sender address rejected: undeliverable address: host "
            "mx1.sender.example[198.51.100.1] said: 550 5.1.1 <bob@sender.example>: Recipient "
            "address rejected: User unknown (in reply to RCPT TO command)");
  EXPECT_NE(text.find("; cached result of a probe at 20"), std::string::npos) << text;
}

TEST_F(CalloutTest, AcceptedAddressPassesAndIsCached) {
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  auto s = stage();
  EXPECT_EQ(check(s, "alice@sender.example")->reason, "callout.accept");
  EXPECT_EQ(check(s, "alice@sender.example")->reason, "callout.cached_accept");
  EXPECT_EQ(probe->probes, 1);
  EXPECT_EQ(probe->lastRandom.substr(0, 8), "mxguard-");
}

TEST_F(CalloutTest, AcceptAllDomainMakesAddressesUnverifiable) {
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", true);
  auto s = stage();
  auto d = check(s, "anyone@sender.example");
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->reason, "callout.accept_all");
  auto other = check(s, "someone.else@sender.example");
  EXPECT_EQ(other->reason, "callout.cached_accept_all");
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, GreylistingIsUnverifiedNeverA5xxAndNotHammered) {
  probe->script("198.51.100.1", ProbeOutcome::TempFailed, 450,
                {"4.7.1 <carol@sender.example>: Recipient address rejected: Greylisted"});
  auto s = stage();
  auto d = check(s, "carol@sender.example");
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <carol@sender.example>: Sender address rejected: unverified address: host "
            "mx1.sender.example[198.51.100.1] said: 450 4.7.1 <carol@sender.example>: Recipient "
            "address rejected: Greylisted (in reply to RCPT TO command)\r\n");
  auto again = check(s, "carol@sender.example");
  EXPECT_EQ(again->reason, "callout.cached_unverified");
  EXPECT_EQ(again->reply->code(), 450);
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, UnreachablePrimaryFallsBackToTheNextMxInPreferenceOrder) {
  probe->script("198.51.100.1", ProbeOutcome::Unreachable, 0, {});
  probe->script("198.51.100.2", ProbeOutcome::Rejected, 550, {"5.1.1 no such user"});
  auto d = check(stage(), "dave@sender.example");
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_NE(
      d->reply->text().find("host mx2.sender.example[198.51.100.2] said: 550 5.1.1 no such user"),
      std::string::npos);
  EXPECT_EQ(probe->probes, 2);
}

TEST_F(CalloutTest, NoReachableServerIsUnverified) {
  probe->script("198.51.100.1", ProbeOutcome::Unreachable, 0, {});
  probe->script("198.51.100.2", ProbeOutcome::Unreachable, 0, {});
  auto d = check(stage(), "erin@sender.example");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <erin@sender.example>: Sender address rejected: unverified address: host "
            "mx2.sender.example[198.51.100.2]: connect timed out (at RCPT TO)\r\n");
}

TEST_F(CalloutTest, NullMxDomainNotFoundAndImplicitMx) {
  dns->answer("nomail.example", RrType::MX, {"0 "});
  EXPECT_EQ(
      check(stage(), "x@nomail.example")->reply->toSmtp(),
      "550 5.7.27 <x@nomail.example>: Sender address rejected: Domain nomail.example does not "
      "accept mail (null MX, RFC 7505)\r\n");
  dns->nxdomain("gone.example", RrType::MX);
  auto nx = check(stage(), "x@gone.example");
  EXPECT_EQ(nx->action, Action::Tempfail);
  EXPECT_EQ(nx->reply->toSmtp(),
            "450 4.1.8 <x@gone.example>: Sender address rejected: Domain not found\r\n");
  dns->nodata("plain.example", RrType::MX).answer("plain.example", RrType::A, {"198.51.100.7"});
  probe->script("198.51.100.7", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  EXPECT_EQ(check(stage(), "x@plain.example")->reason, "callout.accept");
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, ADotNextToRealMxHostsIsNoNullMx) {
  dns->answer("mixed.example", RrType::MX, {"0 .", "10 mx1.sender.example"});
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  EXPECT_EQ(check(stage(), "x@mixed.example")->reason, "callout.accept");
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, NonPublicTargetsAreRefusedUnlessAllowed) {
  dns->answer("lan.example", RrType::MX, {"10 mx.lan.example"})
      .answer("mx.lan.example", RrType::A, {"10.1.2.3"});
  auto d = check(stage("allow_private = no\n"), "x@lan.example");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <x@lan.example>: Sender address rejected: unverified address: mail server "
            "mx.lan.example[10.1.2.3] is not a public address\r\n");
  EXPECT_EQ(probe->probes, 0);
  probe->script("10.1.2.3", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  EXPECT_EQ(check(stage("allow_private = yes\n"), "y@lan.example")->reason, "callout.accept");
}

TEST_F(CalloutTest, EveryNonPublicRangeIsRefused) {
  // Loopback, RFC 1918, link-local, CGNAT, this-network, multicast, IETF protocol assignments
  // (192.0.0.0/24), benchmarking (198.18.0.0/15), the three TEST-NETs, reserved 240/4;
  // IPv4-mapped loopback (folded to IPv4), IPv6 loopback, unspecified, unique-local, link-local,
  // multicast, documentation, and IPv6 forms that carry a non-public IPv4 address: NAT64
  // (64:ff9b::/96), 6to4 (2002::/16), IPv4-compatible (::a.b.c.d), Teredo (2001::/32).
  const char* targets[] = {"127.0.0.1",      "10.0.0.1",        "172.16.0.1",   "172.31.255.254",
                           "192.168.1.1",    "169.254.1.1",     "100.64.0.1",   "0.0.0.0",
                           "224.0.0.1",      "255.255.255.255", "192.0.0.8",    "198.18.0.1",
                           "198.19.255.254", "192.0.2.1",       "198.51.100.1", "203.0.113.1",
                           "240.0.0.1"};
  for (const char* a : targets) {
    dns->answer("mx.lan.example", RrType::A, {a})
        .answer("lan.example", RrType::MX, {"10 mx.lan.example"});
    store = std::make_shared<store::MemoryStore>();  // each target its own probe, not a cache hit
    auto d = check(stage("allow_private = no\n"), std::string("v4@lan.example"));
    ASSERT_TRUE(d && d->reply) << a;
    EXPECT_NE(
        d->reply->text().find("[" + IpAddress::parse(a)->toString() + "] is not a public address"),
        std::string::npos)
        << a << ": " << d->reply->text();
  }
  const char* targets6[] = {"::1",
                            "::",
                            "::ffff:127.0.0.1",
                            "fd00::1",
                            "fe80::1",
                            "ff02::1",
                            "2001:db8::1",
                            "64:ff9b::a00:1",
                            "64:ff9b::7f00:1",
                            "2002:c0a8:101::1",
                            "2002:a00:1::",
                            "::10.0.0.1",
                            "::127.0.0.1",
                            "2001:0:4136:e378::1"};
  for (const char* a : targets6) {
    dns->answer("mx6.lan.example", RrType::AAAA, {a})
        .nodata("mx6.lan.example", RrType::A)
        .answer("lan6.example", RrType::MX, {"10 mx6.lan.example"});
    store = std::make_shared<store::MemoryStore>();  // each target its own probe, not a cache hit
    auto d = check(stage("allow_private = no\n"), std::string("v6@lan6.example"));
    ASSERT_TRUE(d && d->reply) << a;
    EXPECT_NE(
        d->reply->text().find("[" + IpAddress::parse(a)->toString() + "] is not a public address"),
        std::string::npos)
        << a << ": " << d->reply->text();
  }
  EXPECT_EQ(probe->probes, 0);
}

TEST_F(CalloutTest, IpV6FormsOfAPublicIpv4AddressAreProbed) {
  // NAT64 and 6to4 of 93.184.216.34 (public): only what they carry makes them non-public.
  for (const char* a : {"64:ff9b::5db8:d822", "2002:5db8:d822::1"}) {
    dns->answer("mx6.pub.example", RrType::AAAA, {a})
        .nodata("mx6.pub.example", RrType::A)
        .answer("pub.example", RrType::MX, {"10 mx6.pub.example"});
    probe->script(a, ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
    store = std::make_shared<store::MemoryStore>();
    EXPECT_EQ(check(stage("allow_private = no\n"), "v6@pub.example")->reason, "callout.accept")
        << a;
  }
  EXPECT_EQ(probe->probes, 2);
}

// Issue 28: a sender with CR/LF came in over the milter socket and was written into RCPT TO:
// the probed server received DATA and a message from our host. Such senders, and senders over
// RFC 5321's limits, are refused before the store is asked or anything is probed.
TEST_F(CalloutTest, HostileSendersAreRefusedBeforeAnyStoreAccessOrProbe) {
  auto recording = std::make_shared<RecordingStore>();
  store = recording;
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  auto s = stage();
  std::string local65(65, 'l'), domain256;
  while (domain256.size() < 256) domain256 += "abcdefghi.";
  domain256 = domain256.substr(0, 252) + ".net";
  std::string local64(64, 'l'), domain190 = domain256.substr(66);  // a path of 257 octets
  struct Case {
    std::string sender, why, shown;
  } cases[] = {
      {"a\r\nDATA\r\n@sender.example", "character 0x0D is not allowed in an address",
       "a??DATA??@sender.example"},
      {"a\nRSET@sender.example", "character 0x0A is not allowed in an address",
       "a?RSET@sender.example"},
      {std::string("a\0b@sender.example", 18), "character 0x00 is not allowed in an address",
       "a?b@sender.example"},
      {"a\tb@sender.example", "character 0x09 is not allowed in an address", "a?b@sender.example"},
      {"a\x7f"
       "b@sender.example",
       "character 0x7F is not allowed in an address", "a?b@sender.example"},
      {"\"a\rb\"@sender.example", "character 0x0D is not allowed in an address",
       "\"a?b\"@sender.example"},
      {local65 + "@sender.example", "local part longer than 64 octets (65; RFC 5321 4.5.3.1.1)",
       local65.substr(0, 64) + "..."},
      {"a@" + domain256, "domain longer than 255 octets (256; RFC 5321 4.5.3.1.2)",
       "a@" + domain256.substr(0, 62) + "..."},
      {local64 + "@" + domain190, "path longer than 256 octets (257; RFC 5321 4.5.3.1.3)",
       local64 + "..."},
  };
  for (const auto& c : cases) {
    auto d = check(s, c.sender);
    ASSERT_TRUE(d && d->reply) << c.why;
    EXPECT_EQ(d->action, Action::Reject) << c.why;
    EXPECT_EQ(d->reason, "callout.malformed") << c.why;
    EXPECT_EQ(d->reply->toSmtp(), "553 5.1.7 <" + c.shown +
                                      ">: Sender address rejected: malformed address: " + c.why +
                                      "\r\n");
  }
  EXPECT_EQ(probe->probes, 0);
  EXPECT_TRUE(recording->keys.empty()) << recording->keys.front();
  // At the limits exactly (64-octet local part, 255-octet domain... within a 256-octet path) it
  // is probed as usual.
  dns->nodata(domain190.substr(1), RrType::MX)
      .answer(domain190.substr(1), RrType::A, {"198.51.100.1"});
  EXPECT_EQ(check(s, local64 + "@" + domain190.substr(1))->reason, "callout.accept");
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, MalformedCheckOffStillNeverProbes) {
  auto s = stage("malformed = off\n");
  auto d = check(s, "a\r\nDATA@sender.example");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->reason, "callout.skip");
  EXPECT_EQ(d->detail, "malformed address: character 0x0D is not allowed in an address");
  EXPECT_EQ(probe->probes, 0);
}

// Issue 28: 32 KB domains took the memory store to 3.8 GB. Keys stay short however long the
// address (hashed past 200 octets), and a cached reply is at most 512 octets.
TEST_F(CalloutTest, CacheKeysAndValuesAreBounded) {
  auto recording = std::make_shared<RecordingStore>();
  store = recording;
  std::string domain;
  while (domain.size() < 190) domain += "abcdefghi.";
  domain += "example";                                       // 197 octets
  std::string sender = std::string(50, 'u') + "@" + domain;  // 248 octets: within the limits
  dns->nodata(domain, RrType::MX).answer(domain, RrType::A, {"198.51.100.1"});
  std::string evil;
  for (int i = 0; i < 40; ++i)
    evil += "5.1.1 line " + std::to_string(i) + " " + std::string(90, 'x');
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550, {evil}, "RCPT TO");
  auto s = stage();
  auto d = check(s, sender);
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->reason, "callout.reject");
  ASSERT_FALSE(recording->keys.empty());
  for (const auto& k : recording->keys) EXPECT_LE(k.size(), 220u) << k;
  bool hashed = false;
  for (const auto& k : recording->keys)
    if (k.rfind("callout:addr:sha256:", 0) == 0 && k.size() == 20 + 64) hashed = true;
  EXPECT_TRUE(hashed) << recording->keys.front();
  ASSERT_EQ(recording->values.size(), 1u);
  EXPECT_LE(recording->values[0].size(), 512u + 300u);
  std::string quoted = ("550 " + evil).substr(0, 509) + "...";
  EXPECT_NE(d->reply->text().find("said: " + quoted + " (in reply to RCPT TO command)"),
            std::string::npos)
      << d->reply->text();
  // The same address again: the hashed key finds the record, quoting the same bounded reply.
  auto again = check(s, sender);
  ASSERT_TRUE(again && again->reply);
  EXPECT_EQ(again->reason, "callout.cached_reject");
  EXPECT_NE(again->reply->text().find("said: " + quoted + " (in reply to RCPT TO command)"),
            std::string::npos);
  EXPECT_EQ(probe->probes, 1);
}

// Issue 28: one sender domain with 3 MX x 200 A records made 600 connection attempts in 0.11 s.
// Now: at most 2 addresses per MX host, 3 hosts, 5 connection attempts per probe.
TEST_F(CalloutTest, ConnectionAttemptsPerProbeAreCapped) {
  dns->answer("wide.example", RrType::MX,
              {"10 mx1.wide.example", "20 mx2.wide.example", "30 mx3.wide.example"});
  for (int h = 1; h <= 3; ++h) {
    std::vector<std::string> addresses;
    for (int i = 1; i <= 200; ++i) {
      addresses.push_back("198.51." + std::to_string(100 + h) + "." + std::to_string(i));
      probe->script(addresses.back(), ProbeOutcome::Unreachable, 0, {});
    }
    dns->answer("mx" + std::to_string(h) + ".wide.example", RrType::A, addresses);
  }
  std::mutex m;
  std::vector<std::string> attempted;
  probe->onProbe = [&](const std::string& address) {
    std::lock_guard g(m);
    attempted.push_back(address);
  };
  auto d = check(stage(), "x@wide.example");
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->reason, "callout.unverified");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <x@wide.example>: Sender address rejected: unverified address: host "
            "mx3.wide.example[198.51.103.1]: connect timed out (at RCPT TO); gave up after 5 "
            "connection attempts\r\n");
  EXPECT_EQ(attempted, (std::vector<std::string>{"198.51.101.1", "198.51.101.2", "198.51.102.1",
                                                 "198.51.102.2", "198.51.103.1"}));
  // The caps are options.
  attempted.clear();
  store = std::make_shared<store::MemoryStore>();
  check(stage("max_addresses_per_host = 1\nmax_attempts = 2\n"), "y@wide.example");
  EXPECT_EQ(attempted, (std::vector<std::string>{"198.51.101.1", "198.51.102.1"}));
}

TEST_F(CalloutTest, ProbesToOneDomainAreRateCapped) {
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  auto s = stage("max_probes_per_domain_per_minute = 3\n");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(check(s, "user" + std::to_string(i) + "@sender.example")->reason, "callout.accept");
  auto d = check(s, "user3@sender.example");
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "callout.rate");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <user3@sender.example>: Sender address rejected: unverified address: too "
            "many verification probes to sender.example in the last minute; try again in 20 "
            "seconds\r\n");
  EXPECT_EQ(probe->probes, 3);
  // Cached answers cost no probe and are not capped; other domains have their own budget.
  EXPECT_EQ(check(s, "user0@sender.example")->reason, "callout.cached_accept");
  dns->nodata("other.example", RrType::MX).answer("other.example", RrType::A, {"198.51.100.1"});
  EXPECT_EQ(check(s, "x@other.example")->reason, "callout.accept");
}

// Forged senders at endless subdomains of one wildcard (a1.victim.example, a2.victim.example, ...)
// must not each get a fresh budget: the caps count the registered domain, by the public suffix
// list ("example" is no listed suffix, so libpsl's default rule makes victim.example registered).
TEST_F(CalloutTest, WildcardSubdomainsShareTheirRegisteredDomainsRateBudget) {
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  for (int i = 0; i < 5; ++i) {
    std::string sub = "s" + std::to_string(i) + ".victim.example";
    dns->nodata(sub, RrType::MX).answer(sub, RrType::A, {"198.51.100.1"});
  }
  dns->nodata("other.example", RrType::MX).answer("other.example", RrType::A, {"198.51.100.1"});
  auto s = stage("max_probes_per_domain_per_minute = 3\n");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(check(s, "u@s" + std::to_string(i) + ".victim.example")->reason, "callout.accept");
  auto d = check(s, "u@s3.victim.example");
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->reason, "callout.rate");
  EXPECT_EQ(d->detail, "probe rate cap reached for victim.example");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <u@s3.victim.example>: Sender address rejected: unverified address: too "
            "many verification probes to s3.victim.example and other domains under "
            "victim.example in the last minute; try again in 20 seconds\r\n");
  EXPECT_EQ(check(s, "v@victim.example")->reason, "callout.rate") << "the domain itself too";
  EXPECT_EQ(check(s, "x@other.example")->reason, "callout.accept") << "its own budget";
  EXPECT_EQ(probe->probes, 4);

  // Without the list each domain is its own budget, as before.
  store = std::make_shared<store::MemoryStore>();
  auto apart = stage("max_probes_per_domain_per_minute = 3\npublic_suffix_list =\n");
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(check(apart, "u@s" + std::to_string(i) + ".victim.example")->reason,
              "callout.accept");
}

TEST_F(CalloutTest, WildcardSubdomainsShareTheirRegisteredDomainsProbesInProgress) {
  probe->script("198.51.100.1", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  for (const char* sub : {"s0.victim.example", "s1.victim.example", "other.example"})
    dns->nodata(sub, RrType::MX).answer(sub, RrType::A, {"198.51.100.1"});
  FirstProbeHeld gate(*probe);
  auto s = stage("max_probes_per_domain = 1\n");
  Findings held;
  std::thread holder([&] { held = check(s, "h@s0.victim.example"); });
  gate.started.wait();
  auto sibling = check(s, "h@s1.victim.example");
  auto elsewhere = check(s, "h@other.example");
  gate.release.count_down();
  holder.join();
  ASSERT_TRUE(sibling && elsewhere && held);
  EXPECT_EQ(sibling->reason, "callout.busy");
  EXPECT_EQ(sibling->detail, "probe caps reached for victim.example");
  EXPECT_EQ(elsewhere->reason, "callout.accept");
  EXPECT_EQ(held->reason, "callout.accept");
}

TEST_F(CalloutTest, NoProbeForNullSenderOrSkippedDomains) {
  EXPECT_EQ(check(stage(), "")->reason, "callout.skip");
  EXPECT_EQ(
      check(stage("skip_domains = sender.example partner.example\n"), "a@sender.example")->reason,
      "callout.skip");
  EXPECT_EQ(probe->probes, 0);
}

TEST_F(CalloutTest, NullSenderRefusedFollowsThePolicy) {
  probe->script("198.51.100.1", ProbeOutcome::NullSenderRefused, 550, {"5.7.1 <>: no bounces here"},
                "MAIL FROM");
  EXPECT_EQ(check(stage(), "f@sender.example")->action, Action::Pass);
  store = std::make_shared<store::MemoryStore>();
  auto d = check(stage("on_null_sender_refused = reject\n"), "f@sender.example");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.1 <f@sender.example>: Sender address rejected: host "
            "mx1.sender.example[198.51.100.1] refuses the null sender (RFC 5321 4.5.5), so the "
            "address cannot be verified: 550 5.7.1 <>: no bounces here\r\n");
}

TEST_F(CalloutTest, StoreDownIsADependencyFailure) {
  store = std::make_shared<DownStore>();
  auto d = check(stage(), "g@sender.example");
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "callout.store_failure");
  EXPECT_EQ(d->reply->code(), 450);
  EXPECT_EQ(probe->probes, 0);
}

TEST_F(CalloutTest, ConcurrentChecksOfOneAddressShareOneProbe) {
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550, {"5.1.1 unknown"});
  probe->delay = std::chrono::milliseconds(200);
  auto s = stage();
  std::vector<std::thread> threads;
  std::atomic<int> rejected{0};
  for (int i = 0; i < 6; ++i)
    threads.emplace_back([&] {
      auto d = check(s, "h@sender.example");
      if (d && d->action == Action::Reject) ++rejected;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(rejected, 6);
  EXPECT_EQ(probe->probes, 1);
}

TEST_F(CalloutTest, AProbeThatThrowsLeavesNoFlightAndNoCapSlotBehind) {
  // A probe that throws (a bug, memory exhaustion) used to stay "in flight" for good: every later
  // check of the address joined it and waited out its whole deadline, and its cap slot was lost.
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550, {"5.1.1 unknown"});
  std::atomic<bool> explode{true};
  probe->onProbe = [&](const std::string&) {
    if (explode.exchange(false)) throw std::runtime_error("probe exploded");
  };
  auto s = stage("max_probes = 1\nprobe_timeout = 30s\n");
  Findings d;
  EXPECT_NO_THROW(d = check(s, "t@sender.example"));
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "callout.internal_error");
  EXPECT_EQ(d->reply->toSmtp(),
            "450 4.1.7 <t@sender.example>: Sender address rejected: unverified address: the "
            "verification probe failed internally\r\n");
  EXPECT_NE(d->detail.find("probe exploded"), std::string::npos) << d->detail;

  // The same address again: a fresh probe at once (nothing was cached), not a wait of 30 s or
  // more for the dead one.
  auto start = std::chrono::steady_clock::now();
  auto again = check(s, "t@sender.example");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->reason, "callout.reject");
  // Its slot was released: with one probe allowed in all, another address is probed.
  EXPECT_EQ(check(s, "u@sender.example")->reason, "callout.reject");
  EXPECT_EQ(probe->probes, 3);
}

// Polls `condition` (another thread's progress) for up to 30 s.
bool eventually(const std::function<bool()>& condition) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST_F(CalloutTest, ACheckWaitingForAProbeThatThrowsIsToldAtOnce) {
  probes = std::make_shared<stages::CalloutProbes>();
  std::latch started{1}, release{1};
  probe->onProbe = [&](const std::string&) {
    started.count_down();
    release.wait();
    throw std::runtime_error("probe exploded");
  };
  auto s = stage("probe_timeout = 30s\n");
  Findings leader;
  std::thread leading([&] { leader = check(s, "w@sender.example"); });
  started.wait();
  Findings waiter;
  auto waited = std::chrono::steady_clock::duration::max();
  std::thread waiting([&] {
    auto start = std::chrono::steady_clock::now();
    waiter = check(s, "W@sender.example");
    waited = std::chrono::steady_clock::now() - start;
  });
  EXPECT_TRUE(eventually([&] { return probes->sharers("w@sender.example") == 1; }));
  release.count_down();
  leading.join();
  waiting.join();
  ASSERT_TRUE(leader && waiter && waiter->reply);
  EXPECT_EQ(leader->reason, "callout.internal_error");
  EXPECT_LT(waited, std::chrono::seconds(5)) << "the waiter must not wait out its 45 s deadline";
  EXPECT_EQ(waiter->action, Action::Tempfail);
  EXPECT_TRUE(waiter->dependencyFailure);
  EXPECT_EQ(waiter->reason, "callout.internal_error");
  EXPECT_EQ(waiter->reply->toSmtp(),
            "450 4.1.7 <W@sender.example>: Sender address rejected: unverified address: the "
            "verification probe failed internally\r\n");
  EXPECT_EQ(probe->probes, 1);
  EXPECT_EQ(probes->running(), 0u);
}

TEST_F(CalloutTest, ProbesInFlightStayCountedAcrossAReload) {
  // A reload (SIGHUP) builds a new stage from the new policy while connections on the old policy
  // still probe: both must count against one set of caps and share one probe per address.
  probe->script("198.51.100.1", ProbeOutcome::Rejected, 550, {"5.1.1 unknown"});
  dns->nodata("elsewhere.example", RrType::MX)
      .answer("elsewhere.example", RrType::A, {"198.51.100.1"});
  FirstProbeHeld gate(*probe);
  auto before = stage("max_probes = 1\n");
  auto after = stage("max_probes = 1\ntempfail_ttl = 10m\n");
  Findings held;
  std::thread holder([&] { held = check(before, "h@sender.example"); });
  gate.started.wait();
  auto sameDomain = check(after, "other@sender.example");
  auto otherDomain = check(after, "x@elsewhere.example");
  // The same address from the new policy joins the old policy's probe.
  Findings joined;
  std::thread joining([&] { joined = check(after, "h@sender.example"); });
  EXPECT_TRUE(eventually(
      [&] { return stages::CalloutStage::processProbes()->sharers("h@sender.example") == 1; }));
  gate.release.count_down();
  holder.join();
  joining.join();
  ASSERT_TRUE(sameDomain && otherDomain && held && joined);
  EXPECT_EQ(sameDomain->reason, "callout.busy");
  EXPECT_EQ(otherDomain->reason, "callout.busy");
  EXPECT_EQ(held->reason, "callout.reject");
  EXPECT_EQ(joined->reason, "callout.reject") << "shared, not a second probe nor the cache";
  EXPECT_EQ(probe->probes, 1);
  EXPECT_EQ(stages::CalloutStage::processProbes()->running(), 0u);

  // Limits come from each stage's own policy: raised by the reload, they admit more probes while
  // one is still in flight under the old ones.
  std::latch started2{1}, release2{1};
  probe->onProbe = [&](const std::string& address) {
    if (address != "198.51.100.1") return;
    started2.count_down();
    release2.wait();
  };
  dns->nodata("third.example", RrType::MX).answer("third.example", RrType::A, {"198.51.100.3"});
  probe->script("198.51.100.3", ProbeOutcome::Accepted, 250, {"2.1.5 Ok"}, "RCPT TO", false);
  auto raised = stage("max_probes = 2\n");
  std::thread holder2([&] { held = check(before, "i@sender.example"); });
  started2.wait();
  EXPECT_EQ(check(before, "y@third.example")->reason, "callout.busy");
  EXPECT_EQ(check(raised, "z@third.example")->reason, "callout.accept");
  release2.count_down();
  holder2.join();
  EXPECT_EQ(held->reason, "callout.reject");
}

// The message of the ConfigError that building a callout stage from `config` throws.
std::string configError(const std::string& config) {
  auto file = config::ConfigFile::parse(config, "test.conf");
  const auto* factory = stages::findStage("callout");
  stages::StageContext ctx;
  ctx.store = std::make_shared<store::MemoryStore>();
  try {
    factory->create(file.section("callout", factory->options()), ctx);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CalloutConfig, UnverifiedReplyMustBe4xx) {
  EXPECT_EQ(configError("[callout]\nreply_unverified = 550 5.1.7 no\n"),
            "test.conf:2: callout.reply_unverified: an unverified address must get a 4xx reply, "
            "not 550");
}

TEST(CalloutConfig, AnUnreadablePublicSuffixListIsRefused) {
  EXPECT_EQ(configError("[callout]\npublic_suffix_list = /nonexistent/psl.dafsa\n"),
            "test.conf:2: callout.public_suffix_list: cannot read the public suffix list "
            "'/nonexistent/psl.dafsa' (Debian package publicsuffix: "
            "/usr/share/publicsuffix/public_suffix_list.dafsa)");
}

}  // namespace
}  // namespace mxguard::testing
