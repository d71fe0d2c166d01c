// smtp_probe_test.cpp - the callout client against tests/testbed/scripted_smtp.py: every outcome,
// multi-line replies, EHLO fallback, drops, tarpits and garbage, each within its deadline.
#include "smtp/smtp_probe.h"

#include <gtest/gtest.h>

#include "prerequisite.h"
#include "test_server_process.h"

namespace mxguard::smtp {
namespace {

using std::chrono::milliseconds;
using testing::TestServerProcess;

struct ProbeTest : ::testing::Test {
  void SetUp() override {
    MXGUARD_REQUIRE(TestServerProcess::pythonAvailable(), "python3 is not installed");
  }
  ProbeResult run(const std::string& mode, const std::string& rcpt = "alice@sender.example.net",
                  const std::string& random = "") {
    TestServerProcess server("scripted_smtp.py", {"--mode", mode, "--users", "alice"});
    EXPECT_GT(server.port(), 0);
    ProbeOptions o;
    o.heloName = "mx.example.net";
    o.port = server.port();
    o.connectTimeout = milliseconds(1000);
    o.commandTimeout = milliseconds(500);
    o.totalTimeout = milliseconds(3000);
    o.randomLocalPart = random;
    return SmtpProbe().probe("mx.sender.example.net", "127.0.0.1", rcpt, o);
  }
};

TEST_F(ProbeTest, KnownAddressIsAccepted) {
  auto r = run("normal");
  EXPECT_EQ(r.outcome, ProbeOutcome::Accepted);
  EXPECT_EQ(r.command, "RCPT TO");
  EXPECT_EQ(r.reply.firstLine(), "250 2.1.5 Ok");
  EXPECT_EQ(r.transcript.front(),
            "connect mx.sender.example.net[127.0.0.1]:" +
                r.transcript.front().substr(r.transcript.front().rfind(':') + 1));
  EXPECT_NE(std::find(r.transcript.begin(), r.transcript.end(), "> MAIL FROM:<>"),
            r.transcript.end());
  EXPECT_EQ(r.transcript.back(), "> QUIT");
}

TEST_F(ProbeTest, UnknownAddressIsRejectedWithTheServersWords) {
  auto r = run("normal", "bob@sender.example.net");
  EXPECT_EQ(r.outcome, ProbeOutcome::Rejected);
  EXPECT_EQ(
      r.reply.firstLine(),
      "550 5.1.1 <bob@sender.example.net>: Recipient address rejected: User unknown in virtual "
      "mailbox table");
}

TEST_F(ProbeTest, MultiLineRepliesAreJoined) {
  auto r = run("multiline", "bob@sender.example.net");
  EXPECT_EQ(r.outcome, ProbeOutcome::Rejected);
  EXPECT_EQ(r.reply.code, 550);
  EXPECT_EQ(r.reply.text(),
            "5.1.1 <bob@sender.example.net>: no such user here 5.1.1 see "
            "https://mx.sender.example.net/help");
}

TEST_F(ProbeTest, GreylistingIsATemporaryFailure) {
  auto r = run("greylist");
  EXPECT_EQ(r.outcome, ProbeOutcome::TempFailed);
  EXPECT_EQ(r.reply.code, 450);
}

TEST_F(ProbeTest, Banner421IsATemporaryFailure) {
  auto r = run("banner421");
  EXPECT_EQ(r.outcome, ProbeOutcome::TempFailed);
  EXPECT_EQ(r.command, "banner");
  EXPECT_EQ(r.reply.firstLine(),
            "421 4.3.2 mx.sender.example.net Service not available, closing channel");
}

TEST_F(ProbeTest, NullSenderRefused) {
  auto r = run("refuse-null");
  EXPECT_EQ(r.outcome, ProbeOutcome::NullSenderRefused);
  EXPECT_EQ(r.command, "MAIL FROM");
  EXPECT_EQ(r.reply.firstLine(), "550 5.7.1 <>: null sender not accepted here");
}

TEST_F(ProbeTest, HeloFallbackWhenEhloIsUnknown) {
  auto r = run("helo-only");
  EXPECT_EQ(r.outcome, ProbeOutcome::Accepted);
  EXPECT_NE(std::find(r.transcript.begin(), r.transcript.end(), "> HELO mx.example.net"),
            r.transcript.end());
}

TEST_F(ProbeTest, AcceptAllIsDetectedWithARandomLocalPart) {
  auto all = run("accept-all", "alice@sender.example.net", "mxguard-x7f3k2");
  EXPECT_EQ(all.outcome, ProbeOutcome::Accepted);
  ASSERT_TRUE(all.randomAccepted);
  EXPECT_TRUE(*all.randomAccepted);
  auto normal = run("normal", "alice@sender.example.net", "mxguard-x7f3k2");
  ASSERT_TRUE(normal.randomAccepted);
  EXPECT_FALSE(*normal.randomAccepted);
}

TEST_F(ProbeTest, DropAfterEhloIsUnreachable) {
  auto r = run("drop-after-ehlo");
  EXPECT_EQ(r.outcome, ProbeOutcome::Unreachable);
  EXPECT_EQ(r.command, "EHLO");
  EXPECT_EQ(r.error, "the server closed the connection");
}

TEST_F(ProbeTest, GarbageIsUnreachable) {
  auto r = run("garbage");
  EXPECT_EQ(r.outcome, ProbeOutcome::Unreachable);
  EXPECT_EQ(r.command, "banner");
  EXPECT_EQ(r.error, "malformed reply line");
}

TEST_F(ProbeTest, TarpitTimesOutAtTheCommandDeadline) {
  auto start = std::chrono::steady_clock::now();
  auto r = run("tarpit");
  auto ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.outcome, ProbeOutcome::Unreachable);
  EXPECT_EQ(r.command, "banner");
  EXPECT_EQ(r.error, "timed out waiting for the server");
  EXPECT_LT(ms, 2000);
}

TEST(ProbeConnect, NothingListeningIsUnreachable) {
  ProbeOptions o;
  o.port = 1;  // nothing listens on tcpmux here
  o.connectTimeout = milliseconds(500);
  auto r = SmtpProbe().probe("mx", "127.0.0.1", "a@b", o);
  EXPECT_EQ(r.outcome, ProbeOutcome::Unreachable);
  EXPECT_EQ(r.command, "connect");
  EXPECT_EQ(r.error, "Connection refused");
}

}  // namespace
}  // namespace mxguard::smtp
