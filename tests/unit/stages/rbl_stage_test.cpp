// rbl_stage_test.cpp - listings, filters, weights, misconfigured answers, failures (and which of
// them can change the verdict), the TXT asked only for the listing a rejection quotes, IPv6 names.
#include <gtest/gtest.h>

#include "base/counters.h"
#include "base/log.h"
#include "stage_test_support.h"

namespace mxguard::testing {
namespace {

using dns::RrType;

struct RblTest : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
  // auto: whatever the hook returns (a Decision or the hook's findings), read through -> and bool.
  auto run(const std::string& config, const std::string& ip = "192.0.2.2") {
    auto stage = buildStage("rbl", config, dns);
    auto tx = clientTx(ip);
    return stage->onConnect(tx);
  }
};

TEST_F(RblTest, ListedWithTxtUsesPostfixWording) {
  dns->answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.2"})
      .answer("2.2.0.192.zen.example.net", RrType::TXT, {"https://zen.example.net/q?192.0.2.2"});
  auto d = run("zone = zen.example.net=127.0.0.[2..11]\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_EQ(d->reply->code(), 554);
  EXPECT_EQ(d->reply->enhanced(), "5.7.1");
  EXPECT_EQ(d->reply->text(),
            "Service unavailable; Client host [192.0.2.2] blocked using zen.example.net; "
            "https://zen.example.net/q?192.0.2.2");
  EXPECT_EQ(d->reason, "rbl.listed");
  EXPECT_EQ(d->detail, "zen.example.net=127.0.0.2 score 1/1");
}

TEST_F(RblTest, ListedWithoutTxtHasNoSeparator) {
  dns->answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.4"});
  auto d = run("zone = zen.example.net\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reply->text(),
            "Service unavailable; Client host [192.0.2.2] blocked using zen.example.net");
}

TEST_F(RblTest, HostileTxtIsSanitisedAndWrapped) {
  std::string txt = "%s evil\r\ninjected " + std::string(600, 'x');
  dns->answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.2"})
      .answer("2.2.0.192.zen.example.net", RrType::TXT, {txt});
  auto d = run("zone = zen.example.net\n");
  ASSERT_TRUE(d);
  std::string text = d->reply->text();
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("; %s evil??injected xxx"), std::string::npos);
  EXPECT_GE(d->reply->lines().size(), 2u);
  for (const auto& line : d->reply->lines()) EXPECT_LE(line.size() + 4 + 6 + 2, 512u);
  EXPECT_EQ(d->reply->milterLines()[0].find("%%s evil"), d->reply->lines()[0].find("%s evil"));
}

TEST_F(RblTest, ReturnCodeFilters) {
  dns->answer("2.2.0.192.a.example.net", RrType::A, {"127.0.0.12"})
      .answer("2.2.0.192.b.example.net", RrType::A, {"127.0.0.5"})
      .answer("2.2.0.192.c.example.net", RrType::A, {"127.0.0.6"});
  auto notListed =
      run("zone = a.example.net=127.0.0.[2..11]\nzone = b.example.net=127.0.0.[2;4;6]\n"
          "zone = c.example.net=&0.0.0.1\n");
  ASSERT_TRUE(notListed);
  EXPECT_EQ(notListed->action, Action::Pass);
  EXPECT_EQ(notListed->reason, "rbl.not_listed");
  auto listed = run("zone = c.example.net=&4\n");
  EXPECT_EQ(listed->action, Action::Reject);
  auto listedRange = run("zone = b.example.net=127.0.0.[2;4..5]\n");
  EXPECT_EQ(listedRange->action, Action::Reject);
}

TEST_F(RblTest, WeightsThresholdAndAllowList) {
  dns->answer("2.2.0.192.spamcop.example.net", RrType::A, {"127.0.0.2"})
      .answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.3"})
      .answer("2.2.0.192.wl.example.net", RrType::A, {"127.0.10.2"});
  const std::string zones = "zone = spamcop.example.net*1\nzone = zen.example.net*3\n";
  auto below = run("zone = spamcop.example.net*1\nthreshold = 2\n");
  EXPECT_EQ(below->action, Action::Pass);
  EXPECT_EQ(below->reason, "rbl.below_threshold");
  auto both = run(zones + "threshold = 4\n");
  ASSERT_EQ(both->action, Action::Reject);
  // The heaviest listing zone names the reason.
  EXPECT_EQ(both->reply->text(),
            "Service unavailable; Client host [192.0.2.2] blocked using zen.example.net");
  auto allowed = run(zones + "zone = wl.example.net=127.0.[0..255].[1..3]*-3\nthreshold = 2\n");
  EXPECT_EQ(allowed->action, Action::Pass);
  EXPECT_EQ(allowed->reason, "rbl.allowlisted");
  EXPECT_EQ(allowed->detail,
            "spamcop.example.net=127.0.0.2, zen.example.net=127.0.0.3, wl.example.net=127.0.10.2 "
            "score 1");
}

TEST_F(RblTest, RefusalCodesAndAnswersOutside127AreNeverListings) {
  std::vector<std::string> logs;
  setLogSink([&](LogLevel, std::string_view m) { logs.emplace_back(m); });
  uint64_t before = counterValue("rbl.misconfigured_answer");
  dns->answer("2.2.0.192.zen.example.net", RrType::A, {"127.255.255.254"})
      .answer("2.2.0.192.wild.example.net", RrType::A, {"10.0.0.1"});
  auto d = run("zone = zen.example.net\nzone = wild.example.net\n");
  setLogSink(nullptr);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(counterValue("rbl.misconfigured_answer"), before + 2);
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(
      logs[0],
      "rbl: zone zen.example.net answered 127.255.255.254 for 192.0.2.2: query refused: queries "
      "through a public/open resolver are not answered (127.255.255.254) - NOT treated as "
      "listed; check this zone's configuration");
  EXPECT_NE(logs[1].find("answer outside 127.0.0.0/8"), std::string::npos);
}

TEST_F(RblTest, LookupFailureIsADependencyTempfail) {
  dns->servfail("2.2.0.192.zen.example.net", RrType::A);
  auto d = run("zone = zen.example.net\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reply->code(), 451);
  EXPECT_EQ(d->reply->enhanced(), "4.7.1");
  EXPECT_EQ(
      d->reply->text(),
      "Service unavailable; Client host [192.0.2.2]: blocklist lookup failed at zen.example.net "
      "(SERVFAIL); try again later");
  EXPECT_EQ(d->reason, "rbl.dns_failure");
}

TEST_F(RblTest, AListingStillWinsOverAnotherZonesTimeout) {
  dns->timeout("2.2.0.192.slow.example.net", RrType::A)
      .answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.2"});
  auto d = run("zone = slow.example.net\nzone = zen.example.net\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_FALSE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "rbl.listed");
  EXPECT_EQ(d->reply->toSmtp(),
            "554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using "
            "zen.example.net\r\n");
  // A blocklist that failed could only have added to the score.
  EXPECT_EQ(d->detail,
            "slow.example.net: temporary failure (cannot change the verdict), "
            "zen.example.net=127.0.0.2 score 1/1");
}

// A failed zone only matters if it could change the outcome.
TEST_F(RblTest, AllowListedClientPassesWhenABlocklistFails) {
  dns->servfail("2.2.0.192.zen.example.net", RrType::A)
      .answer("2.2.0.192.wl.example.net", RrType::A, {"127.0.10.2"});
  auto d = run("zone = zen.example.net*1\nzone = wl.example.net=127.0.[0..255].[1..3]*-3\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_FALSE(d->dependencyFailure);
  EXPECT_FALSE(d->reply);
  EXPECT_EQ(d->reason, "rbl.allowlisted");
  EXPECT_EQ(d->detail,
            "zen.example.net: temporary failure (cannot change the verdict), "
            "wl.example.net=127.0.10.2 score -3");
}

TEST_F(RblTest, ListedClientIsDeferredWhenAnAllowListThatCouldRescueItFails) {
  dns->answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.2"})
      .servfail("2.2.0.192.wl.example.net", RrType::A);
  auto d = run("zone = zen.example.net\nzone = wl.example.net*-3\n");
  ASSERT_TRUE(d);
  // Rejecting a client the allow list may vouch for is the worse error: defer instead.
  EXPECT_EQ(d->action, Action::Tempfail);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "rbl.dns_failure");
  EXPECT_EQ(d->detail, "zen.example.net=127.0.0.2, wl.example.net: temporary failure");
  EXPECT_EQ(d->reply->toSmtp(),
            "451 4.7.1 Service unavailable; Client host [192.0.2.2]: blocklist lookup failed at "
            "wl.example.net (SERVFAIL); try again later\r\n");
  // No TXT for a listing that is not reported.
  for (const auto& q : dns->queries()) EXPECT_EQ(q.type, RrType::A) << q.name;
}

TEST_F(RblTest, ListedClientIsRejectedWhenTheFailedAllowListCouldNotRescueIt) {
  dns->answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.2"})
      .servfail("2.2.0.192.wl.example.net", RrType::A);
  auto d = run("zone = zen.example.net*5\nzone = wl.example.net*-1\nthreshold = 3\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_EQ(d->reason, "rbl.listed");
  EXPECT_EQ(d->detail,
            "zen.example.net=127.0.0.2, wl.example.net: temporary failure (cannot change the "
            "verdict) score 5/3");
}

TEST_F(RblTest, BelowThresholdPassesWhenTheFailedZonesCannotReachIt) {
  dns->answer("2.2.0.192.a.example.net", RrType::A, {"127.0.0.2"})
      .servfail("2.2.0.192.b.example.net", RrType::A);
  auto d = run("zone = a.example.net\nzone = b.example.net\nthreshold = 3\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_FALSE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "rbl.below_threshold");
  EXPECT_EQ(d->detail,
            "a.example.net=127.0.0.2, b.example.net: temporary failure (cannot change the "
            "verdict) score 1/3");
}

TEST_F(RblTest, NotListedPassesWhenTheFailedZoneIsTooLightToReachTheThreshold) {
  dns->servfail("2.2.0.192.b.example.net", RrType::A);
  auto d = run("zone = a.example.net\nzone = b.example.net\nthreshold = 2\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->reason, "rbl.not_listed");
  EXPECT_EQ(d->detail, "b.example.net: temporary failure (cannot change the verdict)");
}

TEST_F(RblTest, AFailedZoneThatCouldReachTheThresholdDefers) {
  dns->servfail("2.2.0.192.b.example.net", RrType::A);
  auto notListed = run("zone = a.example.net\nzone = b.example.net\n");
  ASSERT_TRUE(notListed);
  EXPECT_EQ(notListed->action, Action::Tempfail);
  EXPECT_TRUE(notListed->dependencyFailure);
  EXPECT_EQ(notListed->reason, "rbl.dns_failure");
  EXPECT_EQ(notListed->detail, "b.example.net: temporary failure");
  EXPECT_EQ(notListed->reply->toSmtp(),
            "451 4.7.1 Service unavailable; Client host [192.0.2.2]: blocklist lookup failed at "
            "b.example.net (SERVFAIL); try again later\r\n");

  // Below the threshold on what answered, over it if the failed zone lists the client.
  dns->answer("2.2.0.192.a.example.net", RrType::A, {"127.0.0.2"});
  auto below = run("zone = a.example.net\nzone = b.example.net*2\nthreshold = 3\n");
  ASSERT_TRUE(below);
  EXPECT_EQ(below->action, Action::Tempfail);
  EXPECT_TRUE(below->dependencyFailure);
  EXPECT_EQ(below->reason, "rbl.dns_failure");
  EXPECT_EQ(below->detail, "a.example.net=127.0.0.2, b.example.net: temporary failure");
}

TEST_F(RblTest, NotListedAsksOnlyTheARecords) {
  auto d = run("zone = a.example.net\nzone = b.example.net\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reason, "rbl.not_listed");
  auto queries = dns->queries();
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].name, "2.2.0.192.a.example.net");
  EXPECT_EQ(queries[0].type, RrType::A);
  EXPECT_EQ(queries[1].name, "2.2.0.192.b.example.net");
  EXPECT_EQ(queries[1].type, RrType::A);
}

TEST_F(RblTest, ListedAsksTheTxtOfTheListingZoneOnly) {
  dns->answer("2.2.0.192.b.example.net", RrType::A, {"127.0.0.2"})
      .answer("2.2.0.192.b.example.net", RrType::TXT, {"see https://b.example.net/192.0.2.2"})
      .answer("2.2.0.192.a.example.net", RrType::TXT, {"never asked"});
  auto d = run("zone = a.example.net\nzone = b.example.net\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_EQ(d->reply->text(),
            "Service unavailable; Client host [192.0.2.2] blocked using b.example.net; "
            "see https://b.example.net/192.0.2.2");
  auto queries = dns->queries();
  ASSERT_EQ(queries.size(), 3u);
  size_t txt = 0;
  for (const auto& q : queries) {
    if (q.type != RrType::TXT) continue;
    ++txt;
    EXPECT_EQ(q.name, "2.2.0.192.b.example.net");
  }
  EXPECT_EQ(txt, 1u);
}

TEST_F(RblTest, TxtFailureKeepsTheRejectionWithoutTheTxt) {
  dns->answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.2"})
      .servfail("2.2.0.192.zen.example.net", RrType::TXT);
  auto d = run("zone = zen.example.net\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, Action::Reject);
  EXPECT_FALSE(d->dependencyFailure);
  EXPECT_EQ(d->reason, "rbl.listed");
  EXPECT_EQ(d->detail, "zen.example.net=127.0.0.2 score 1/1");
  EXPECT_EQ(d->reply->toSmtp(),
            "554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using "
            "zen.example.net\r\n");
}

TEST_F(RblTest, AllZonesInOneBatchAndIpv6Nibbles) {
  auto stage =
      buildStage("rbl", "zone = a.example.net\nzone = b.example.net\nzone = c.example.net\n", dns);
  auto tx = clientTx("2001:db8::1");
  stage->onConnect(tx);
  auto batches = dns->batches();
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].size(), 3u);
  EXPECT_EQ(batches[0][0].name,
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.a.example.net");
  for (const auto& q : batches[0]) EXPECT_EQ(q.type, RrType::A) << q.name;
  // What the connect phase prefetches is the same batch.
  auto prefetched = stage->prefetch(Phase::Connect, tx);
  ASSERT_EQ(prefetched.size(), 3u);
  for (const auto& q : prefetched) EXPECT_EQ(q.type, RrType::A) << q.name;
}

TEST_F(RblTest, Ipv4MappedClientIsQueriedAsIpv4) {
  auto stage = buildStage("rbl", "zone = a.example.net\n", dns);
  auto tx = clientTx("::ffff:192.0.2.2");
  stage->onConnect(tx);
  EXPECT_EQ(dns->batches()[0][0].name, "2.2.0.192.a.example.net");
}

TEST_F(RblTest, PerZoneReply) {
  dns->answer("2.2.0.192.zen.example.net", RrType::A, {"127.0.0.2"});
  auto d =
      run("zone = zen.example.net\nzone_reply = zen.example.net 550 5.7.1 Listed by ${rbl_domain} "
          "(${rbl_code})\n");
  EXPECT_EQ(d->reply->toSmtp(), "550 5.7.1 Listed by zen.example.net (127.0.0.2)\r\n");
  // The reply does not quote the TXT, so it is not asked.
  for (const auto& q : dns->queries()) EXPECT_EQ(q.type, RrType::A) << q.name;
}

TEST_F(RblTest, NoClientAddressIsSkipped) {
  auto stage = buildStage("rbl", "zone = a.example.net\n", dns);
  Connection tx;
  auto d = stage->onConnect(tx);
  EXPECT_EQ(d->reason, "rbl.skip");
  EXPECT_TRUE(dns->batches().empty());
}

TEST(RblConfig, BadConfigNamesFileLineOption) {
  EXPECT_EQ(configError("rbl", "threshold = 1\n"),
            "test.conf:1: rbl.zone: no zone configured: add e.g. 'zone = "
            "zen.spamhaus.org=127.0.0.[2..11]'");
  EXPECT_EQ(
      configError("rbl", "zone = zen.example.net=127.0.0.[2..x]\n"),
      "test.conf:2: rbl.zone: invalid filter '127.0.0.[2..x]' in 'zen.example.net=127.0.0.[2..x]' "
      "(use e.g. 127.0.0.2, 127.0.0.[2..11], 127.0.[0..255].[1;3] or &0.0.0.4)");
  EXPECT_EQ(
      configError("rbl", "zone = zen.example.net*x\n"),
      "test.conf:2: rbl.zone: invalid weight 'x' in 'zen.example.net*x' (use e.g. *2 or *-1)");
  EXPECT_EQ(configError("rbl", "zone = a.example.net\nzone_reply = b.example.net 554 5.7.1 x\n"),
            "test.conf:3: rbl.zone_reply: 'b.example.net' is not one of the configured zones");
  EXPECT_EQ(
      configError("rbl", "zone = a.example.net\nreply = 554 5.7.1 ${rbl_reason}\n"),
      "test.conf:3: rbl.reply: unknown variable ${rbl_reason}; known variables: client_address, "
      "client_name, helo_name, rbl_code, rbl_domain, rbl_error, rbl_txt");
  EXPECT_EQ(configError("rbl", "zone = a.example.net\ntempfail_reply = 554 5.7.1 x\n"),
            "test.conf:3: rbl.tempfail_reply: a lookup failure must get a 4xx reply, not 554");
}

}  // namespace
}  // namespace mxguard::testing
