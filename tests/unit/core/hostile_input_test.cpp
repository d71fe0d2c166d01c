// hostile_input_test.cpp - issue 28: what one hostile transaction can make the engine hold, edit
// and log is bounded: 130,000 forged Authentication-Results fields, 100,000 recipients.
// Must not: depend on timing; every bound is checked by size, and every reply by its exact text.
#include <gtest/gtest.h>

#include <regex>

#include "base/log.h"
#include "core/engine.h"
#include "fakes/function_stage.h"

namespace mxguard {
namespace {

using testing::FunctionStage;

const PhaseSet kAll{Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt,
                    Phase::Header,  Phase::Eoh,  Phase::Body, Phase::Eom};

// The documented bounds (engine.h); written out so that a change to them is a visible decision.
constexpr size_t kLogLineBytes = 4096;
constexpr size_t kTraceBytes = 64 * 1024;
constexpr size_t kKeptRecipients = 1000;

struct HostileInput : ::testing::Test {
  void SetUp() override {
    setLogSink([this](LogLevel, std::string_view m) { logs.emplace_back(m); });
  }
  void TearDown() override { setLogSink(nullptr); }

  std::shared_ptr<FunctionStage> addStage(const std::string& name) {
    auto s = std::make_shared<FunctionStage>(name);
    StageEntry e;
    e.stage = s;
    e.phases = kAll;
    policy->stages.push_back(e);
    return s;
  }
  Engine start() {
    Engine s(policy);
    auto& c = s.connection().client;
    c.clientIp = IpAddress::parse("192.0.2.1");
    c.clientAddress = "192.0.2.1";
    c.ourHostname = "mx.example.net";
    s.connect();
    s.helo("client.example.org");
    return s;
  }
  static std::string replyOf(const Verdict& v) {
    return v.reply
               ? std::to_string(v.reply->code()) + " " + v.reply->enhanced() + " " + v.reply->text()
               : "(no reply)";
  }
  static size_t traceBytes(const Engine& s) {
    size_t n = 0;
    for (const auto& t : s.connection().trace)
      n += t.stage.size() + t.outcome.size() + t.detail.size() + t.effect.size();
    return n;
  }
  size_t longestLog() const {
    size_t n = 0;
    for (const auto& l : logs) n = std::max(n, l.size());
    return n;
  }
  std::shared_ptr<Policy> policy = std::make_shared<Policy>();
  std::vector<std::string> logs;
};

TEST_F(HostileInput, ManyForgedAuthenticationResultsAreRefusedAtEndOfHeaders) {
  Engine s = start();
  s.mail("<a@example.org>");
  s.rcpt("<b@example.net>");
  for (int i = 0; i < 130000; ++i) s.header("Authentication-Results", "mx.example.net; spf=pass");
  Verdict eoh = s.endOfHeaders();
  const std::string want =
      "550 5.7.1 Message rejected: 130000 Authentication-Results header fields claim this "
      "server's authserv-id mx.example.net (at most 20 are removed); it is forged";
  EXPECT_EQ(replyOf(eoh), want);
  EXPECT_EQ(eoh.reason, "engine.too_many_forged_authentication_results");
  EXPECT_EQ(replyOf(s.endOfMessage()), want);  // the milter's end of message gives it again
  EXPECT_TRUE(s.headerEdits().empty());
  EXPECT_LE(s.connection().message.removedHeaders.size(), 20u);
  EXPECT_LE(traceBytes(s), kTraceBytes);
  EXPECT_LE(longestLog(), kLogLineBytes);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs.back().find("engine:too_many_forged_authentication_results/reject action=reject "
                             "reason=engine.too_many_forged_authentication_results"),
            std::string::npos)
      << logs.back().substr(0, 2000);
}

TEST_F(HostileInput, TheRefusalNeedsNoEndOfHeaders) {
  Engine s = start();
  s.mail("<a@example.org>");
  s.rcpt("<b@example.net>");
  for (int i = 0; i < 21; ++i) s.header("Authentication-Results", "mx.example.net; spf=pass");
  EXPECT_EQ(replyOf(s.endOfMessage()),
            "550 5.7.1 Message rejected: 21 Authentication-Results header fields claim this "
            "server's authserv-id mx.example.net (at most 20 are removed); it is forged");
}

TEST_F(HostileInput, UpToTheCapForgeriesAreRemovedAndTheMessageAccepted) {
  Engine s = start();
  s.mail("<a@example.org>");
  s.rcpt("<b@example.net>");
  for (int i = 0; i < 20; ++i) s.header("Authentication-Results", "mx.example.net; spf=pass");
  s.header("Authentication-Results", "other.example; spf=pass");
  EXPECT_EQ(s.endOfHeaders().action, Action::Pass);
  EXPECT_EQ(s.endOfMessage().action, Action::Pass);
  EXPECT_EQ(s.connection().message.removedHeaders.size(), 20u);
  EXPECT_EQ(s.headerEdits().size(), 20u);  // no results recorded: nothing inserted
}

// Found by fuzz_milter_callbacks: end of message after end of message, with no MAIL between
// (libmilter passes whatever comes over the socket), ran the end-of-message stages again over the
// same message: its results, and the Authentication-Results field, grew with every repetition
// (a 316-byte input took 9 s).
TEST_F(HostileInput, ARepeatedEndOfMessageRunsNothingAgain) {
  auto stage = addStage("results");
  int runs = 0;
  stage->eom = [&](Connection& tx) -> Findings {
    ++runs;
    tx.message.authResults.push_back({"dkim", "none", "", {}});
    return std::nullopt;
  };
  Engine s = start();
  s.mail("<a@example.org>");
  s.rcpt("<b@example.net>");
  s.header("From", "a@example.org");
  s.endOfHeaders();
  EXPECT_EQ(s.endOfMessage().action, Action::Pass);
  ASSERT_EQ(s.headerEdits().size(), 1u);
  std::string field = s.headerEdits()[0].value;
  size_t logged = logs.size();
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(s.endOfMessage().action, Action::Pass);
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(s.headerEdits().empty()) << "the field was asked for once already";
  EXPECT_EQ(logs.size(), logged) << "the transaction was logged once";
  // The next message starts afresh.
  s.mail("<c@example.org>");
  s.rcpt("<b@example.net>");
  s.endOfHeaders();
  s.endOfMessage();
  EXPECT_EQ(runs, 2);
  ASSERT_EQ(s.headerEdits().size(), 1u);
  EXPECT_EQ(s.headerEdits()[0].value, field);
}

TEST_F(HostileInput, TrailingDotAndCaseNameOurAuthservId) {
  Engine s = start();
  s.mail("<a@example.org>");
  s.rcpt("<b@example.net>");
  s.header("Authentication-Results", "mx.example.net.; spf=pass");
  s.header("Authentication-Results", "MX.Example.NET.; dkim=pass");
  s.header("Authentication-Results", "\"mx.example.net.\"; dmarc=pass");
  s.header("Authentication-Results", "mx.example.net.evil.example; spf=pass");
  s.endOfMessage();
  std::vector<std::pair<std::string, int>> removed{
      {"Authentication-Results", 1}, {"Authentication-Results", 2}, {"Authentication-Results", 3}};
  EXPECT_EQ(s.connection().message.removedHeaders, removed);
}

TEST_F(HostileInput, ManyRecipientsBoundMemoryAndTheLogLine) {
  Engine s = start();
  s.mail("<a@example.org>");
  for (int i = 0; i < 100000; ++i) s.rcpt("<r" + std::to_string(i) + "@example.net>");
  EXPECT_LE(s.connection().message.recipients.size(), kKeptRecipients);
  s.endOfMessage();
  ASSERT_FALSE(logs.empty());
  const std::string& line = logs.back();
  ASSERT_LE(line.size(), kLogLineBytes);  // before the regexes: they recurse per byte
  EXPECT_TRUE(std::regex_search(line, std::regex(" to=<r0@example.net>,<r1@example.net>,.*"
                                                 "<r[0-9]+@example.net>,\\.\\.\\. \\([0-9]+ more\\)"
                                                 " stages=none action=accept$")))
      << line.substr(0, 300) << " ... " << line.substr(line.size() > 300 ? line.size() - 300 : 0);
  // The count is exact: shown plus "more" is every recipient.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(line, m, std::regex("\\(([0-9]+) more\\)")));
  size_t shown = 0;
  for (size_t p = line.find("<r"); p != std::string::npos; p = line.find("<r", p + 1)) ++shown;
  EXPECT_EQ(shown + std::stoul(m[1]), 100000u);
}

TEST_F(HostileInput, ManyRefusedRecipientsBoundTheLogLineAndKeepTheReply) {
  auto rcptCheck = addStage("rcptcheck");
  rcptCheck->rcpt = [](Connection&, const std::string&) {
    return Decision::reject(*Reply::make(550, "5.1.1", "User unknown"), "rcptcheck.unknown");
  };
  Engine s = start();
  s.mail("<a@example.org>");
  for (int i = 0; i < 100000; ++i) s.rcpt("<r" + std::to_string(i) + "@example.net>");
  s.abort();
  ASSERT_FALSE(logs.empty());
  const std::string& line = logs.back();
  ASSERT_LE(line.size(), kLogLineBytes);  // before the regexes: they recurse per byte
  EXPECT_LE(traceBytes(s), kTraceBytes);
  EXPECT_NE(line.find(" rejected=<r0@example.net> 550 5.1.1 rejected=<r1@example.net> 550 5.1.1"),
            std::string::npos);
  EXPECT_TRUE(std::regex_search(line, std::regex(" rejected=\\.\\.\\. \\([0-9]+ more\\) stages=")));
  // The stages list shows its first and its last entries: the decision is at the end.
  EXPECT_TRUE(std::regex_search(
      line, std::regex(" stages=rcptcheck:unknown/reject,.*,\\.\\.\\. \\([0-9]+ more\\),"
                       "(rcptcheck:unknown/reject,)*rcptcheck:unknown/reject action=reject "
                       "reason=rcptcheck.unknown reply=\"User unknown\"$")))
      << line.substr(line.size() > 300 ? line.size() - 300 : 0);
}

TEST_F(HostileInput, AFullTraceStillKeepsTheDecision) {
  auto chatty = addStage("chatty");
  chatty->rcpt = [](Connection&, const std::string&) {
    return Decision::pass("chatty.ok", std::string(100, 'x'));
  };
  chatty->eom = [](Connection&) {
    return Decision::reject(*Reply::make(550, "5.7.1", "No"), "chatty.refused");
  };
  Engine s = start();
  s.mail("<a@example.org>");
  for (int i = 0; i < 10000; ++i) s.rcpt("<r" + std::to_string(i) + "@example.net>");
  EXPECT_EQ(s.endOfMessage().action, Action::Reject);
  EXPECT_LE(traceBytes(s), kTraceBytes);
  ASSERT_FALSE(s.connection().trace.empty());
  EXPECT_EQ(s.connection().trace.back().outcome, "refused");
  EXPECT_EQ(s.connection().trace.back().effect, "reject");
  ASSERT_LE(logs.back().size(), kLogLineBytes);
  EXPECT_TRUE(std::regex_search(logs.back(), std::regex(" stages=chatty:ok,.*,\\.\\.\\. \\([0-9]+ "
                                                        "more\\),.*,chatty:refused/reject "
                                                        "action=reject")));

  // The next message of the connection starts with empty lists and counts.
  logs.clear();
  s.mail("<a@example.org>");
  s.rcpt("<b@example.net>");
  chatty->eom = nullptr;
  s.endOfMessage();
  EXPECT_NE(logs.back().find(" to=<b@example.net> stages=chatty:ok action=accept"),
            std::string::npos)
      << logs.back();
}

}  // namespace
}  // namespace mxguard
