// auth_results_test.cpp - the Authentication-Results formatter and authserv-id reader (RFC 8601),
// and the Engine's use of them: one field at end of message, forgeries of our id removed.
#include "core/auth_results.h"

#include <gtest/gtest.h>

#include "core/engine.h"

namespace mxguard {
namespace {

TEST(AuthResults, FormatsOneResinfoPerLine) {
  std::vector<AuthResult> r{
      {"spf", "pass", "", {{"smtp.mailfrom", "alice@example.org"}}},
      {"dkim", "fail", "body hash mismatch", {{"header.d", "example.org"}, {"header.s", "s1"}}}};
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", r),
            "mx.example.net;\n\tspf=pass smtp.mailfrom=alice@example.org;\n\tdkim=fail (body hash "
            "mismatch) header.d=example.org header.s=s1");
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", {}), "mx.example.net; none");
}

TEST(AuthResults, OutsideValuesCannotBreakTheField) {
  std::vector<AuthResult> r{
      {"spf", "fail", "a (nested) \r\nX-Injected: 1", {{"smtp.mailfrom", "a b;\"c\"@x\r\n"}}}};
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", r),
            "mx.example.net;\n\tspf=fail (a  nested  ??X-Injected: 1) "
            "smtp.mailfrom=\"a b;\\\"c\\\"@x??\"");
}

TEST(AuthResults, Base64WithTspecialsIsQuoted) {
  std::vector<AuthResult> r{{"dkim", "pass", "", {{"header.b", "ab+/cd=e"}, {"header.s", "s+1"}}}};
  EXPECT_EQ(formatAuthenticationResults("mx.example.net", r),
            "mx.example.net;\n\tdkim=pass header.b=\"ab+/cd=e\" header.s=s+1");
}

TEST(AuthResults, SameAuthservIdIgnoresCaseAndATrailingDot) {
  EXPECT_TRUE(sameAuthservId("mx.example.net", "mx.example.net"));
  EXPECT_TRUE(sameAuthservId("MX.Example.NET.", "mx.example.net"));
  EXPECT_TRUE(sameAuthservId("mx.example.net", "mx.example.net."));
  EXPECT_FALSE(sameAuthservId("mx.example.net.evil.example", "mx.example.net"));
  EXPECT_FALSE(sameAuthservId("mx.example.ne", "mx.example.net"));
  EXPECT_FALSE(sameAuthservId("", "mx.example.net"));
}

TEST(AuthResults, ReadsTheAuthservId) {
  EXPECT_EQ(authservIdOf("mx.example.net; spf=pass"), "mx.example.net");
  EXPECT_EQ(authservIdOf(" (comment (nested)) MX.Example.NET 1; none"), "MX.Example.NET");
  EXPECT_EQ(authservIdOf("\"mx.example.net\"; none"), "mx.example.net");
  EXPECT_EQ(authservIdOf("\r\n\tmx.example.net;dkim=pass"), "mx.example.net");
  EXPECT_EQ(authservIdOf("; none"), std::nullopt);
  EXPECT_EQ(authservIdOf("(unterminated"), std::nullopt);
  // Found by fuzz_authserv_id: control bytes inside the quoted form are no authserv-id.
  EXPECT_EQ(authservIdOf("\"a\nb\"; none"), std::nullopt);
  EXPECT_EQ(authservIdOf(std::string_view("\"a\0b\"; none", 10)), std::nullopt);
}

// A stage that records an spf result at MAIL, as the spf stage does.
class RecordingStage : public Stage {
 public:
  std::string_view name() const override { return "spf"; }
  Findings onMail(Connection& tx) const override {
    tx.message.authResults.push_back({"spf", "pass", "", {{"smtp.mailfrom", tx.message.sender}}});
    return std::nullopt;
  }
};

struct AuthResultsSession : ::testing::Test {
  std::shared_ptr<Policy> policy = [] {
    auto p = std::make_shared<Policy>();
    StageEntry e;
    e.stage = std::make_shared<RecordingStage>();
    e.phases = PhaseSet{Phase::Mail};
    p->stages.push_back(e);
    return p;
  }();
  Engine start(const char* ip = "192.0.2.1") {
    Engine s(policy);
    s.connection().client.clientIp = IpAddress::parse(ip);
    s.connection().client.clientAddress = ip;
    s.connection().client.ourHostname = "mx.example.net";
    return s;
  }
  void message(Engine& s) {
    s.connect();
    s.helo("client.example.org");
    s.mail("<alice@example.org>");
    s.rcpt("<bob@example.net>");
    s.header("Authentication-Results", "other.example.com; spf=pass");
    s.header("authentication-results", "MX.EXAMPLE.NET; dkim=pass header.d=paypal.example");
    s.header("Subject", "hi");
    s.header("Authentication-Results", " (forged) mx.example.net; spf=pass");
    s.endOfHeaders();
    s.endOfMessage();
  }
};

TEST_F(AuthResultsSession, AddsOneFieldAndRemovesForgeriesOfOurId) {
  Engine s = start();
  message(s);
  const auto& e = s.connection().message;
  ASSERT_EQ(e.addedHeaders.size(), 1u);
  EXPECT_EQ(e.addedHeaders[0].name, "Authentication-Results");
  EXPECT_EQ(e.addedHeaders[0].value, "mx.example.net;\n\tspf=pass smtp.mailfrom=alice@example.org");
  // Indexes among the Authentication-Results fields (smfi_chgheader numbering): 2 and 3.
  std::vector<std::pair<std::string, int>> removed{{"Authentication-Results", 2},
                                                   {"Authentication-Results", 3}};
  EXPECT_EQ(e.removedHeaders, removed);
}

TEST_F(AuthResultsSession, ConfiguredAuthservIdAndSwitchOff) {
  policy->engine.authservId = "edge.example.net";
  Engine s = start();
  message(s);
  EXPECT_EQ(s.connection().message.addedHeaders[0].value,
            "edge.example.net;\n\tspf=pass smtp.mailfrom=alice@example.org");
  EXPECT_TRUE(s.connection().message.removedHeaders.empty());  // none claimed edge.example.net

  policy->engine.addAuthenticationResults = false;
  Engine off = start();
  message(off);
  EXPECT_TRUE(off.connection().message.addedHeaders.empty());
  EXPECT_TRUE(off.connection().message.removedHeaders.empty());
}

TEST_F(AuthResultsSession, WhitelistedRelayKeepsItsFields) {
  policy->engine.whitelistClients.push_back(*Cidr::parse("192.0.2.0/24"));
  Engine s = start();
  message(s);
  EXPECT_TRUE(s.connection().message.addedHeaders.empty());
  EXPECT_TRUE(s.connection().message.removedHeaders.empty());
}

TEST_F(AuthResultsSession, CountsRestartWithEachMessage) {
  Engine s = start();
  message(s);
  s.mail("<carol@example.org>");
  s.rcpt("<bob@example.net>");
  s.header("Authentication-Results", "mx.example.net; spf=pass");
  s.endOfMessage();
  std::vector<std::pair<std::string, int>> removed{{"Authentication-Results", 1}};
  EXPECT_EQ(s.connection().message.removedHeaders, removed);
  EXPECT_EQ(s.connection().message.addedHeaders[0].value,
            "mx.example.net;\n\tspf=pass smtp.mailfrom=carol@example.org");
}

}  // namespace
}  // namespace mxguard
