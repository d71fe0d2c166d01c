// helo_stage_test.cpp - every HELO check with its exact reply; DNS failures never give a 5xx.
#include <gtest/gtest.h>

#include "stage_test_support.h"

namespace mxguard::testing {
namespace {

using dns::RrType;

const std::string kAllReject =
    "missing = reject\ninvalid = reject\nbare_ip = reject\nnon_fqdn = reject\n"
    "literal_mismatch = reject\nforged = reject\n";

struct HeloTest : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = std::make_shared<FakeResolver>();
  Findings helo(const std::string& name, const std::string& ip = "192.0.2.10",
                const std::string& extra = "") {
    auto stage = buildStage("helo", kAllReject + extra, dns);
    auto tx = clientTx(ip, name);
    return stage->onHelo(tx);
  }
  std::string reply(const std::string& name, const std::string& ip = "192.0.2.10") {
    auto d = helo(name, ip);
    return d && d->reply ? d->reply->toSmtp() : "none: " + (d ? d->reason : "nullopt");
  }
};

TEST_F(HeloTest, ValidNamesPass) {
  for (const char* ok :
       {"mail.example.net", "MAIL.Example.NET.", "a-b.example.net", "[192.0.2.10]"}) {
    auto d = helo(ok);
    ASSERT_TRUE(d) << ok;
    EXPECT_EQ(d->action, Action::Pass) << ok;
    EXPECT_EQ(d->reason, "helo.ok") << ok;
  }
}

TEST_F(HeloTest, InvalidNamesNameTheProblem) {
  EXPECT_EQ(reply("bad_name.example.net"),
            "501 5.5.2 <bad_name.example.net>: Helo command rejected: Invalid name (character '_' "
            "is not allowed in a host name)\r\n");
  EXPECT_EQ(reply("a..example.net"),
            "501 5.5.2 <a..example.net>: Helo command rejected: Invalid name (empty label)\r\n");
  EXPECT_EQ(
      reply("-a.example.net"),
      "501 5.5.2 <-a.example.net>: Helo command rejected: Invalid name (label may not start or "
      "end with '-')\r\n");
  EXPECT_EQ(reply("host.123"),
            "501 5.5.2 <host.123>: Helo command rejected: Invalid name (top-level label is all "
            "numeric)\r\n");
  EXPECT_EQ(reply(""), "501 5.5.2 <>: Helo command rejected: Invalid name (empty name)\r\n");
  EXPECT_EQ(reply("[192.0.2.300]"),
            "501 5.5.2 <[192.0.2.300]>: Helo command rejected: Invalid name (invalid address "
            "literal)\r\n");
}

TEST_F(HeloTest, ControlCharactersAreNamedInHexAndNeverEchoed) {
  EXPECT_EQ(
      reply("mail.example.net\r\nRSET"),
      "501 5.5.2 <mail.example.net??RSET>: Helo command rejected: Invalid name (character 0x0D "
      "is not allowed in a host name)\r\n");
  EXPECT_EQ(
      reply(std::string("mail\0x.example.net", 18)),
      "501 5.5.2 <mail?x.example.net>: Helo command rejected: Invalid name (character 0x00 is "
      "not allowed in a host name)\r\n");
}

TEST_F(HeloTest, TenKilobyteHeloGetsAShortReply) {
  std::string huge(10240, 'a');
  auto d = helo(huge);
  ASSERT_TRUE(d && d->reply);
  EXPECT_EQ(d->reply->toSmtp(), "501 5.5.2 <" + std::string(64, 'a') +
                                    "...>: Helo command rejected: Invalid name (name longer than "
                                    "255 octets (10240))\r\n");
}

TEST_F(HeloTest, BareIpAddresses) {
  EXPECT_EQ(reply("192.0.2.10"),
            "501 5.5.2 <192.0.2.10>: Helo command rejected: Invalid name (an IP address must be "
            "written as an address literal: [192.0.2.10])\r\n");
  EXPECT_EQ(reply("2001:db8::10", "2001:db8::10"),
            "501 5.5.2 <2001:db8::10>: Helo command rejected: Invalid name (an IP address must be "
            "written as an address literal: [IPv6:2001:db8::10])\r\n");
}

TEST_F(HeloTest, NonFqdn) {
  EXPECT_EQ(reply("localhost"),
            "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname\r\n");
}

TEST_F(HeloTest, AddressLiterals) {
  EXPECT_EQ(reply("[192.0.2.99]"),
            "550 5.7.1 <[192.0.2.99]>: Helo command rejected: address literal does not match your "
            "address [192.0.2.10]\r\n");
  EXPECT_EQ(helo("[IPv6:2001:db8::10]", "2001:db8::10")->action, Action::Pass);
  EXPECT_EQ(helo("[192.0.2.10]", "::ffff:192.0.2.10")->action, Action::Pass);
  EXPECT_EQ(
      reply("[IPv6:2001:db8::11]", "2001:db8::10"),
      "550 5.7.1 <[IPv6:2001:db8::11]>: Helo command rejected: address literal does not match "
      "your address [2001:db8::10]\r\n");
}

TEST_F(HeloTest, ForgedOwnNameOrAddress) {
  EXPECT_EQ(reply("MX.example.net"),
            "550 5.7.1 <MX.example.net>: Helo command rejected: you are not mx.example.net; send "
            "your own host name\r\n");
  auto stage = buildStage("helo", kAllReject + "", dns);
  auto tx = clientTx("192.0.2.10", "[198.51.100.25]");
  tx.client.ourAddresses.push_back(*IpAddress::parse("198.51.100.25"));
  auto d = buildStage("helo", "literal_mismatch = off\n", dns)->onHelo(tx);
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.1 <[198.51.100.25]>: Helo command rejected: you are not mx.example.net; send "
            "your own host name\r\n");
}

TEST_F(HeloTest, WarnModeRecordsAndPasses) {
  auto d = helo("localhost", "192.0.2.10", "");
  EXPECT_EQ(d->action, Action::Reject);
  auto stage = buildStage("helo", "non_fqdn = warn\n", dns);
  auto tx = clientTx("192.0.2.10", "localhost");
  auto w = stage->onHelo(tx);
  ASSERT_EQ(w.items().size(), 1u);
  EXPECT_EQ(w->mode, CheckMode::Warn);  // the engine logs it; nothing else failed
  EXPECT_EQ(w->check, "non_fqdn");
  EXPECT_EQ(w->reason, "helo.non_fqdn");
  EXPECT_EQ(w->reply->toSmtp(),
            "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname\r\n");
  EXPECT_EQ(w->detail, "no dot in HELO name");
}

TEST_F(HeloTest, MissingHeloAtMail) {
  auto stage = buildStage("helo", kAllReject, dns);
  auto tx = clientTx("192.0.2.10");
  tx.client.heloSeen = false;
  auto d = stage->onMail(tx);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->reply->toSmtp(), "503 5.5.1 Error: send HELO/EHLO first\r\n");
  EXPECT_EQ(d->reason, "helo.missing");
  tx.client.heloSeen = true;
  EXPECT_FALSE(stage->onMail(tx));
}

TEST_F(HeloTest, UnresolvableNotFoundRejectsTimeoutDefers) {
  dns->nxdomain("nowhere.example.net", RrType::A).nxdomain("nowhere.example.net", RrType::AAAA);
  auto d = helo("nowhere.example.net", "192.0.2.10", "unresolvable = reject\n");
  EXPECT_EQ(d->reply->toSmtp(),
            "550 5.7.1 <nowhere.example.net>: Helo command rejected: Host not found\r\n");

  dns->timeout("slow.example.net", RrType::A).timeout("slow.example.net", RrType::AAAA);
  auto t = helo("slow.example.net", "192.0.2.10", "unresolvable = reject\n");
  EXPECT_EQ(t->action, Action::Tempfail);
  EXPECT_TRUE(t->dependencyFailure);
  EXPECT_EQ(
      t->reply->toSmtp(),
      "450 4.7.1 <slow.example.net>: Helo command rejected: Host not found (DNS lookup failed "
      "temporarily: timed out after 5000 ms); try again later\r\n");

  dns->answer("v6only.example.net", RrType::AAAA, {"2001:db8::1"});
  EXPECT_EQ(helo("v6only.example.net", "192.0.2.10", "unresolvable = reject\n")->action,
            Action::Pass);
}

TEST_F(HeloTest, ReverseMismatch) {
  dns->answer("10.2.0.192.in-addr.arpa", RrType::PTR, {"mail.client.example.net"})
      .answer("mail.client.example.net", RrType::A, {"192.0.2.10"});
  const std::string strict = "reverse_mismatch = reject\n";
  EXPECT_EQ(helo("mail.client.example.net", "192.0.2.10", strict)->action, Action::Pass);
  EXPECT_EQ(helo("other.example.net", "192.0.2.10", strict)->reply->toSmtp(),
            "550 5.7.1 <other.example.net>: Helo command rejected: does not match your host name "
            "mail.client.example.net\r\n");
  dns->servfail("11.2.0.192.in-addr.arpa", RrType::PTR);
  auto t = helo("x.example.net", "192.0.2.11", strict);
  EXPECT_EQ(t->action, Action::Tempfail);
  EXPECT_EQ(t->reply->code(), 450);
}

TEST(HeloConfig, BadValuesNameTheOption) {
  EXPECT_EQ(configError("helo", "non_fqdn = sometimes\n"),
            "test.conf:2: helo.non_fqdn: invalid value 'sometimes' (use reject, warn or off)");
  EXPECT_EQ(configError("helo", "reply_invalid = 501 5.5.2 ${helo}\n"),
            "test.conf:2: helo.reply_invalid: unknown variable ${helo}; known variables: "
            "client_address, client_name, dns_error, helo_name, helo_problem, our_hostname");
  EXPECT_EQ(configError("helo", "tempfail_reply_unresolvable = 550 5.7.1 x\n"),
            "test.conf:2: helo.tempfail_reply_unresolvable: a DNS failure must get a 4xx reply");
}

// A lookup failure only a warn check needed is reported under that check's mode (the engine
// then logs it instead of deferring).
TEST_F(HeloTest, DnsFailureOfAWarnCheckIsReportedUnderWarn) {
  dns->servfail("mail.client.example.net", RrType::A)
      .servfail("mail.client.example.net", RrType::AAAA);
  auto stage = buildStage("helo", "unresolvable = warn\n", dns);
  auto tx = clientTx("192.0.2.10", "mail.client.example.net");
  auto d = stage->onHelo(tx);
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_TRUE(d->dependencyFailure);
  EXPECT_EQ(d->mode, CheckMode::Warn);
  EXPECT_EQ(d->check, "unresolvable");
}

}  // namespace
}  // namespace mxguard::testing
