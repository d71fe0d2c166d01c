// engine_semantics_test.cpp - the engine's Postfix semantics, one test per rule: a warn check
// never defers, an off check is ignored, authentication drops held verdicts, a DNS failure does
// not outlive its lookup round, answers keep for their scope and TTL, a RCPT's deferral is that
// recipient's alone, a header verdict is kept for the whole message, quarantine waits for the
// end of message, and header edits come in the order a front door must make them.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>

#include "base/log.h"
#include "core/engine.h"
#include "fakes/function_stage.h"

namespace mxguard {
namespace {

Reply reply(int code, const char* enh, const char* text) {
  return *Reply::make(code, enh, text);
}

using testing::FakeClock;
using testing::FunctionStage;

// Answers each name from a script: a list of results consumed one per lookup (the last repeats).
class ScriptedResolver : public dns::Resolver {
 public:
  std::vector<dns::LookupResult> lookupAll(const std::vector<dns::Query>& qs,
                                           std::chrono::milliseconds) override {
    std::vector<dns::LookupResult> out;
    for (const auto& q : qs) {
      ++asked[q.name];
      auto& script = answers[q.name];
      out.push_back(script.size() > 1 ? script.front() : script.back());
      if (script.size() > 1) script.erase(script.begin());
    }
    return out;
  }
  std::map<std::string, std::vector<dns::LookupResult>> answers;
  std::map<std::string, int> asked;
};

const dns::LookupResult kServfail{dns::LookupStatus::TempFail, {}, 0, "SERVFAIL"};
dns::LookupResult txt(const char* record, uint32_t ttl) {
  return {dns::LookupStatus::Ok, {record}, ttl, ""};
}

const PhaseSet kAll{Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt,
                    Phase::Header,  Phase::Eoh,  Phase::Body, Phase::Eom};

struct EngineRules : ::testing::Test {
  void SetUp() override {
    setLogSink([this](LogLevel level, std::string_view m) {
      logs.push_back(std::string(toString(level)) + ": " + std::string(m));
    });
    policy->resolver = resolver;
    policy->incidents = &incidents;
    policy->clock = &clock;
  }
  void TearDown() override { setLogSink(nullptr); }

  std::shared_ptr<FunctionStage> addStage(const std::string& name,
                                          FailureMode onFailure = FailureMode::Tempfail) {
    auto s = std::make_shared<FunctionStage>(name);
    StageEntry e;
    e.stage = s;
    e.phases = kAll;
    e.onFailure = onFailure;
    policy->stages.push_back(e);
    return s;
  }
  Engine start() {
    Engine s(policy);
    auto& c = s.connection().client;
    c.clientIp = IpAddress::parse("192.0.2.1");
    c.clientAddress = "192.0.2.1";
    return s;
  }
  // The would-be replies logged (incident lines are warnings too, and not these).
  std::vector<std::string> warnings() const {
    std::vector<std::string> out;
    for (const auto& l : logs)
      if (l.rfind("warning: ", 0) == 0 && l.find("would reply") != std::string::npos)
        out.push_back(l);
    return out;
  }
  std::shared_ptr<Policy> policy = std::make_shared<Policy>();
  std::shared_ptr<ScriptedResolver> resolver = std::make_shared<ScriptedResolver>();
  FakeClock clock;
  Incidents incidents{clock};
  std::vector<std::string> logs;
};

Decision dnsFailure(CheckMode mode) {
  return Decision::dependencyTempfail(
             reply(450, "4.7.25", "Client host rejected: cannot find your hostname, [192.0.2.1]"),
             "rdns.dns_failure", "forward: SERVFAIL")
      .under(mode, "not_confirmed");
}

// 1. A failure only a warn check needed is a warning: the client is accepted, and the log says
// what would have been replied, in the one shape every would-be reply has.
TEST_F(EngineRules, WarnCheckDependencyFailureNeverDefers) {
  auto rdns = addStage("rdns");
  rdns->connect = [](Connection&) { return dnsFailure(CheckMode::Warn); };
  auto s = start();
  s.connect();
  s.helo("mail.example.org");
  s.mail("a@example.org");
  Verdict v = s.rcpt("b@example.com");
  EXPECT_EQ(v.action, Action::Pass);
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_EQ(warnings()[0],
            "warning: rdns: tempfail_warning (not_confirmed = warn): would reply: 450 4.7.25 "
            "Client host rejected: cannot find your hostname, [192.0.2.1] (rdns.dns_failure)");
  ASSERT_EQ(s.connection().trace.size(), 1u);
  EXPECT_EQ(s.connection().trace[0].effect, "tempfail_warning");
}

TEST_F(EngineRules, EnforcedCheckDependencyFailureDefers) {
  auto rdns = addStage("rdns");
  rdns->connect = [](Connection&) { return dnsFailure(CheckMode::Enforce); };
  auto s = start();
  s.connect();
  s.mail("a@example.org");
  Verdict v = s.rcpt("b@example.com");
  ASSERT_EQ(v.action, Action::Tempfail);
  EXPECT_EQ(v.reply->toSmtp(),
            "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.1]\r\n");
  EXPECT_TRUE(warnings().empty());
}

TEST_F(EngineRules, WarnCheckRefusalIsLoggedAndTheNextFindingDecides) {
  auto helo = addStage("helo");
  helo->helo = [](Connection&) {
    Findings f;
    f.add(Decision::reject(reply(504, "5.5.2",
                                 "<x>: Helo command rejected: need fully-qualified "
                                 "hostname"),
                           "helo.non_fqdn", "no dot")
              .under(CheckMode::Warn, "non_fqdn"));
    f.add(Decision::reject(reply(550, "5.7.1", "<x>: Helo command rejected: you are not me"),
                           "helo.forged", "ours")
              .under(CheckMode::Enforce, "forged"));
    return f;
  };
  auto s = start();
  s.connect();
  s.helo("x");
  s.mail("a@example.org");
  Verdict v = s.rcpt("b@example.com");
  ASSERT_EQ(v.action, Action::Reject);
  EXPECT_EQ(v.reason, "helo.forged");
  ASSERT_EQ(warnings().size(), 1u);
  EXPECT_EQ(warnings()[0],
            "warning: helo: reject_warning (non_fqdn = warn): would reply: 504 5.5.2 <x>: Helo "
            "command rejected: need fully-qualified hostname (helo.non_fqdn)");
}

TEST_F(EngineRules, OffCheckFindingIsIgnored) {
  auto helo = addStage("helo");
  helo->helo = [](Connection&) {
    return Decision::reject(reply(550, "5.7.1", "no"), "helo.forged").under(CheckMode::Off, "x");
  };
  auto s = start();
  s.connect();
  s.helo("x");
  s.mail("a@example.org");
  EXPECT_EQ(s.rcpt("b@example.com").action, Action::Pass);
  EXPECT_TRUE(s.connection().trace.empty());
}

// 2. Held since connect and HELO, dropped when the client authenticates at MAIL.
TEST_F(EngineRules, AuthenticationDropsVerdictsHeldFromConnectAndHelo) {
  auto rbl = addStage("rbl");
  rbl->connect = [](Connection&) {
    return Decision::reject(reply(554, "5.7.1", "Service unavailable; blocked"), "rbl.listed");
  };
  auto rdns = addStage("rdns");
  rdns->connect = [](Connection&) { return dnsFailure(CheckMode::Enforce); };
  auto s = start();
  s.connect();
  s.helo("laptop");
  s.connection().client.authUser = "alice";  // {auth_authen} arrives with MAIL
  EXPECT_EQ(s.mail("alice@example.com").action, Action::Pass);
  EXPECT_EQ(s.rcpt("bob@example.net").action, Action::Pass);
  EXPECT_EQ(s.connection().message.recipients, std::vector<std::string>{"bob@example.net"});
  const auto& trace = s.connection().trace;
  auto t = std::find_if(trace.begin(), trace.end(),
                        [](const TraceEntry& e) { return e.outcome == "authenticated"; });
  ASSERT_NE(t, trace.end());
  EXPECT_EQ(t->stage, "engine");
  EXPECT_EQ(t->detail, "sasl_username=alice drops held rbl.listed");
  EXPECT_EQ(t->effect, "drop_held");
}

TEST_F(EngineRules, WithoutAuthenticationTheHeldRejectionStands) {
  auto rbl = addStage("rbl");
  rbl->connect = [](Connection&) {
    return Decision::reject(reply(554, "5.7.1", "Service unavailable; blocked"), "rbl.listed");
  };
  auto s = start();
  s.connect();
  s.helo("laptop");
  s.mail("alice@example.com");
  Verdict v = s.rcpt("bob@example.net");
  ASSERT_EQ(v.action, Action::Reject);
  EXPECT_EQ(v.reply->toSmtp(), "554 5.7.1 Service unavailable; blocked\r\n");
}

// 3. A SERVFAIL met by the first message is not the second message's answer.
TEST_F(EngineRules, TemporaryFailureDoesNotOutliveItsMessage) {
  resolver->answers["sel._domainkey.example.org"] = {kServfail, txt("v=DKIM1; p=KEY", 300)};
  auto dkim = addStage("dkim");
  dkim->eom = [this](Connection& tx) -> Findings {
    auto r = cachedLookup(tx, *resolver, {"sel._domainkey.example.org", dns::RrType::TXT},
                          std::chrono::milliseconds(100));
    if (r.status == dns::LookupStatus::Ok) return Decision::pass("dkim.pass", r.records[0]);
    return Decision::dependencyTempfail(reply(451, "4.7.5", "key lookup failed"), "dkim.temperror",
                                        r.error);
  };
  auto s = start();
  s.connect();
  s.helo("mail.example.org");
  for (int message = 1; message <= 2; ++message) {
    s.mail("a@example.org");
    ASSERT_EQ(s.rcpt("b@example.com").action, Action::Pass);
    Verdict v = s.endOfMessage();
    if (message == 1) {
      ASSERT_EQ(v.action, Action::Tempfail);
      EXPECT_EQ(v.reply->toSmtp(), "451 4.7.5 key lookup failed\r\n");
    } else {
      EXPECT_EQ(v.action, Action::Pass);
      EXPECT_EQ(s.connection().trace.back().outcome, "pass");
    }
  }
  EXPECT_EQ(resolver->asked["sel._domainkey.example.org"], 2);
}

// Client answers keep for the connection, within their TTL; message answers for the message.
TEST_F(EngineRules, AnswersKeepForTheirScopeAndTtl) {
  resolver->answers["conn.example"] = {txt("c", 60)};
  resolver->answers["msg.example"] = {txt("m", 3600)};
  auto stage = addStage("probe");
  auto look = [this](Connection& tx, const char* name) {
    cachedLookup(tx, *resolver, {name, dns::RrType::TXT}, std::chrono::milliseconds(100));
    return Findings{};
  };
  stage->connect = [&](Connection& tx) { return look(tx, "conn.example"); };
  stage->mail = [&](Connection& tx) {
    look(tx, "conn.example");
    return look(tx, "msg.example");
  };
  stage->rcpt = [&](Connection& tx, const std::string&) { return look(tx, "msg.example"); };
  auto s = start();
  s.connect();
  s.mail("a@example.org");
  s.rcpt("b@example.com");
  EXPECT_EQ(resolver->asked["conn.example"], 1);  // the connect answer served MAIL
  EXPECT_EQ(resolver->asked["msg.example"], 1);   // the MAIL answer served RCPT
  s.abort();
  clock.steady += std::chrono::seconds(61);  // past conn.example's TTL
  s.mail("a@example.org");
  EXPECT_EQ(resolver->asked["conn.example"], 2);
  EXPECT_EQ(resolver->asked["msg.example"], 2);  // a new message asks again
}

// 4. Postfix evaluates defer_if_permit per RCPT: the second recipient's failure is its own.
TEST_F(EngineRules, RecipientDeferralIsThatRecipientsAlone) {
  auto limit = addStage("ratelimit");
  limit->rcpt = [](Connection&, const std::string& r) -> Findings {
    if (r != "second@example.com") return Decision::pass("ratelimit.ok");
    return Decision::dependencyTempfail(
        reply(451, "4.3.0", "Temporary failure: rate limit state unavailable; try again later"),
        "ratelimit.store_failure", "Redis down");
  };
  auto s = start();
  s.connect();
  s.mail("a@example.org");
  EXPECT_EQ(s.rcpt("first@example.com").action, Action::Pass);
  Verdict second = s.rcpt("second@example.com");
  ASSERT_EQ(second.action, Action::Tempfail);
  EXPECT_EQ(second.reply->toSmtp(),
            "451 4.3.0 Temporary failure: rate limit state unavailable; try again later\r\n");
  EXPECT_EQ(s.rcpt("third@example.com").action, Action::Pass);
  EXPECT_EQ(s.connection().message.recipients,
            (std::vector<std::string>{"first@example.com", "third@example.com"}));
}

// A message-level deferral (from MAIL) still covers every recipient of that message.
TEST_F(EngineRules, MailDeferralCoversEveryRecipientOfTheMessageOnly) {
  int mails = 0;
  auto spf = addStage("spf");
  spf->mail = [&](Connection&) -> Findings {
    if (++mails > 1) return Decision::pass("spf.pass");
    return Decision::dependencyTempfail(reply(451, "4.7.24", "SPF temperror"), "spf.temperror");
  };
  auto s = start();
  s.connect();
  s.mail("a@example.org");
  EXPECT_EQ(s.rcpt("one@example.com").action, Action::Tempfail);
  EXPECT_EQ(s.rcpt("two@example.com").action, Action::Tempfail);
  s.abort();
  s.mail("a@example.org");
  EXPECT_EQ(s.rcpt("one@example.com").action, Action::Pass);
}

// One front door driver: a header verdict is given again at end of headers and end of message,
// and no later stage hook runs for that message.
TEST_F(EngineRules, HeaderVerdictIsKeptForTheRestOfTheMessage) {
  int bodies = 0, eoms = 0;
  auto headers = addStage("headers");
  headers->header = [](Connection&, const Header& h) -> Findings {
    if (h.name != "X-Bad") return {};
    return Decision::reject(reply(550, "5.6.0", "Message rejected: bad field"), "headers.bad");
  };
  headers->body = [&](Connection&) -> Findings {
    ++bodies;
    return {};
  };
  headers->eom = [&](Connection&) -> Findings {
    ++eoms;
    return {};
  };
  auto s = start();
  s.connect();
  s.mail("a@example.org");
  s.rcpt("b@example.com");
  EXPECT_EQ(s.header("X-Bad", "1").action, Action::Reject);
  EXPECT_EQ(s.header("Subject", "hi").action, Action::Reject);
  EXPECT_EQ(s.endOfHeaders().action, Action::Reject);
  EXPECT_EQ(s.body("text").action, Action::Reject);
  Verdict end = s.endOfMessage();
  ASSERT_EQ(end.action, Action::Reject);
  EXPECT_EQ(end.reply->toSmtp(), "550 5.6.0 Message rejected: bad field\r\n");
  EXPECT_EQ(bodies, 0);
  EXPECT_EQ(eoms, 0);
  EXPECT_TRUE(s.headerEdits().empty());
  // The next message starts clean.
  s.mail("a@example.org");
  s.rcpt("b@example.com");
  EXPECT_EQ(s.header("Subject", "hi").action, Action::Pass);
  EXPECT_EQ(s.endOfMessage().action, Action::Pass);
}

// libmilter allows smfi_quarantine only at end of message.
TEST_F(EngineRules, QuarantineIsGivenAtEndOfMessage) {
  auto stage = addStage("content");
  stage->mail = [](Connection&) {
    Decision d = Decision::pass("content.suspicious");
    d.action = Action::Quarantine;
    return d;
  };
  auto s = start();
  s.connect();
  EXPECT_EQ(s.mail("a@example.org").action, Action::Pass);
  EXPECT_EQ(s.rcpt("b@example.com").action, Action::Pass);
  EXPECT_EQ(s.endOfHeaders().action, Action::Pass);
  Verdict end = s.endOfMessage();
  EXPECT_EQ(end.action, Action::Quarantine);
  EXPECT_EQ(end.reason, "content.suspicious");
}

TEST_F(EngineRules, HeaderEditsDeleteHighestIndexFirstThenInsert) {
  policy->engine.authservId = "mx.example.net";
  auto spf = addStage("spf");
  spf->mail = [](Connection& tx) {
    tx.message.authResults.push_back({"spf", "pass", "", {{"smtp.mailfrom", "a@example.org"}}});
    return Findings{};
  };
  auto s = start();
  s.connect();
  s.mail("a@example.org");
  s.rcpt("b@example.com");
  s.header("Authentication-Results", "mx.example.net; spf=pass");
  s.header("Authentication-Results", "other.example; spf=fail");
  s.header("Authentication-Results", "mx.example.net; dkim=pass");
  s.endOfMessage();
  const auto& edits = s.headerEdits();
  ASSERT_EQ(edits.size(), 3u);
  EXPECT_EQ(edits[0].kind, Engine::HeaderEdit::Kind::Delete);
  EXPECT_EQ(edits[0].index, 3);
  EXPECT_EQ(edits[1].kind, Engine::HeaderEdit::Kind::Delete);
  EXPECT_EQ(edits[1].index, 1);
  EXPECT_EQ(edits[2].kind, Engine::HeaderEdit::Kind::Insert);
  EXPECT_EQ(edits[2].name, "Authentication-Results");
}

}  // namespace
}  // namespace mxguard
