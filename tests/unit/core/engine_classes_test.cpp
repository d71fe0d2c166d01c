// engine_classes_test.cpp - recipient classes and access rules in the Engine (issue 23): each
// recipient judged by its class at RCPT from findings evaluated once; the strictest class wins
// the message phases; access rules allow, skip and refuse for their scope, traced.
#include <gtest/gtest.h>

#include <map>

#include "base/log.h"
#include "core/engine.h"
#include "fakes/function_stage.h"

namespace mxguard {
namespace {

using testing::FunctionStage;

Reply reply(int code, const char* enh, const char* text) {
  return *Reply::make(code, enh, text);
}

// A table of exact subjects (names, addresses as text) to rules.
class ExactTable : public AccessTable {
 public:
  std::optional<AccessHit> find(std::string_view subject) const override {
    auto it = rules.find(std::string(subject));
    if (it == rules.end()) return std::nullopt;
    return AccessHit{&it->second, "test.map:1: " + it->first};
  }
  std::optional<AccessHit> findAddress(const IpAddress& ip) const override {
    return find(ip.toString());
  }
  std::map<std::string, AccessRule> rules;
};

class DomainSet : public RecipientSet {
 public:
  explicit DomainSet(std::string domain) : domain_(std::move(domain)) {}
  std::optional<std::string> match(std::string_view rcpt) const override {
    auto at = rcpt.rfind('@');
    if (at == std::string_view::npos || rcpt.substr(at + 1) != domain_) return std::nullopt;
    return "inline:1: " + domain_;
  }

 private:
  std::string domain_;
};

AccessRule skipRule(std::vector<std::string> names) {
  AccessRule r;
  r.kind = AccessRule::Kind::Skip;
  r.skip = std::move(names);
  return r;
}

AccessRule rejectRule(Reply rep) {
  AccessRule r;
  r.kind = AccessRule::Kind::Reject;
  r.reply = std::move(rep);
  return r;
}

struct Classes : ::testing::Test {
  void SetUp() override {
    setLogSink([this](LogLevel, std::string_view m) { logs.emplace_back(m); });
  }
  void TearDown() override { setLogSink(nullptr); }

  std::shared_ptr<FunctionStage> addStage(const std::string& name, PhaseSet phases) {
    auto s = std::make_shared<FunctionStage>(name);
    StageEntry e;
    e.stage = s;
    e.phases = phases;
    policy->stages.push_back(e);
    return s;
  }
  PolicyClass& addClass(const std::string& name, const std::string& domain) {
    PolicyClass cls;
    cls.judging.name = name;
    cls.recipients.push_back(std::make_shared<DomainSet>(domain));
    policy->classes.push_back(cls);
    policy->judgesPerRecipient = true;
    return policy->classes.back();
  }
  std::shared_ptr<ExactTable> addAccess(AccessSubject subject) {
    auto t = std::make_shared<ExactTable>();
    policy->access.push_back({subject, t});
    if (subject == AccessSubject::Recipient) policy->judgesPerRecipient = true;
    return t;
  }
  Engine start(const char* ip = "192.0.2.1") {
    Engine e(policy);
    e.connection().client.clientIp = IpAddress::parse(ip);
    e.connection().client.clientAddress = ip;
    return e;
  }
  static std::string traceOf(const Engine& e) {
    std::string out;
    for (const auto& t : e.connection().trace)
      out +=
          t.stage + ":" + t.outcome + "/" + t.effect + (t.lane.empty() ? "" : "@" + t.lane) + " ";
    return out;
  }

  std::shared_ptr<Policy> policy = std::make_shared<Policy>();
  std::vector<std::string> logs;
};

Decision heloNonFqdn(CheckMode mode) {
  return Decision::reject(
             reply(504, "5.5.2", "Helo command rejected: need fully-qualified hostname"),
             "helo.non_fqdn", "host")
      .under(mode, "non_fqdn");
}

TEST_F(Classes, StricterClassRejectsItsRecipientWhileThePolicyAcceptsTheOther) {
  auto helo = addStage("helo", PhaseSet{Phase::Helo});
  helo->helo = [](Connection&) { return Findings(heloNonFqdn(CheckMode::Warn)); };
  addClass("finance", "finance.example.com").judging.checkModes["helo.non_fqdn"] =
      CheckMode::Enforce;
  Engine e = start();
  e.connect();
  EXPECT_EQ(e.helo("host").action, Action::Pass);
  EXPECT_EQ(e.mail("a@sender.example").action, Action::Pass);
  Verdict strict = e.rcpt("bob@finance.example.com");
  ASSERT_EQ(strict.action, Action::Reject);
  EXPECT_EQ(strict.reply->toSmtp(),
            "504 5.5.2 Helo command rejected: need fully-qualified hostname\r\n");
  EXPECT_EQ(e.rcpt("alice@example.com").action, Action::Pass);
  EXPECT_EQ(e.rcpt("carol@finance.example.com").action, Action::Reject);
  std::string trace = traceOf(e);
  EXPECT_NE(trace.find("helo:non_fqdn/reject_warning "), std::string::npos) << trace;
  EXPECT_NE(trace.find("engine:class/judged by class finance"), std::string::npos) << trace;
  EXPECT_NE(trace.find("helo:non_fqdn/delayed@finance"), std::string::npos) << trace;
  // The helo stage ran once: every class judged the same finding.
  e.endOfMessage();
  EXPECT_EQ(e.connection().message.recipients, std::vector<std::string>{"alice@example.com"});
}

TEST_F(Classes, ClassSkipsARcptStageForItsRecipientsOnly) {
  auto grey = addStage("greylist", PhaseSet{Phase::Rcpt});
  int runs = 0;
  grey->rcpt = [&](Connection&, const std::string&) {
    ++runs;
    return Findings(Decision::tempfail(reply(450, "4.2.0", "Greylisted"), "greylist.new", ""));
  };
  addClass("support", "support.example.com").judging.skip.insert("greylist");
  Engine e = start();
  e.connect();
  e.helo("mx.sender.example");
  e.mail("a@sender.example");
  EXPECT_EQ(e.rcpt("help@support.example.com").action, Action::Pass);
  EXPECT_EQ(runs, 0);  // a stage its lane skips does not run for that recipient
  Verdict other = e.rcpt("bob@example.com");
  EXPECT_EQ(other.action, Action::Tempfail);
  EXPECT_EQ(runs, 1);
}

TEST_F(Classes, PolicyRejectionHeldFromConnectIsNotTheClassesThatSkipIt) {
  auto rbl = addStage("rbl", PhaseSet{Phase::Connect});
  rbl->connect = [](Connection&) {
    return Findings(Decision::reject(reply(554, "5.7.1", "Service unavailable; listed"),
                                     "rbl.listed", "zen=127.0.0.2"));
  };
  auto helo = addStage("helo", PhaseSet{Phase::Helo});
  int heloRuns = 0;
  helo->helo = [&](Connection&) {
    ++heloRuns;
    return Findings(Decision::pass("helo.ok"));
  };
  addClass("partner", "partner.example").judging.skip.insert("rbl");
  policy->relaxable.insert("rbl");  // what the loader derives from the class
  Engine e = start();
  e.connect();
  e.helo("mx.partner.example");
  // With classes, the policy's held rejection does not stop the other stages: a class judges
  // them at RCPT.
  EXPECT_EQ(heloRuns, 1);
  e.mail("a@partner.example");
  Verdict policyRcpt = e.rcpt("x@example.com");
  ASSERT_EQ(policyRcpt.action, Action::Reject);
  EXPECT_EQ(policyRcpt.reason, "rbl.listed");
  EXPECT_EQ(e.rcpt("x@partner.example").action, Action::Pass);
  EXPECT_NE(traceOf(e).find("rbl:listed/skipped@partner"), std::string::npos) << traceOf(e);
}

// A rejection no class relaxes stops the other stages as without classes: a blocklisted client
// costs no HELO lookups or callout probes every class would ignore.
TEST_F(Classes, RejectionNoClassRelaxesStopsTheOtherStages) {
  auto rbl = addStage("rbl", PhaseSet{Phase::Connect});
  rbl->connect = [](Connection&) {
    return Findings(Decision::reject(reply(554, "5.7.1", "Service unavailable; listed"),
                                     "rbl.listed", "zen=127.0.0.2"));
  };
  auto callout = addStage("callout", PhaseSet{Phase::Mail});
  int probes = 0;
  callout->mail = [&](Connection&) {
    ++probes;
    return Findings(Decision::pass("callout.ok"));
  };
  addClass("support", "support.example").judging.skip.insert("greylist");
  policy->relaxable.insert("greylist");
  Engine e = start();
  e.connect();
  e.helo("mx.sender.example");
  e.mail("a@sender.example");
  EXPECT_EQ(probes, 0);
  EXPECT_EQ(e.rcpt("x@support.example").reason, "rbl.listed");
  EXPECT_EQ(e.rcpt("x@example.com").reason, "rbl.listed");
}

TEST_F(Classes, MessagePhaseTheStrictestClassWins) {
  auto body = addStage("headers", PhaseSet{Phase::Eom});
  body->eom = [](Connection&) {
    return Findings(Decision::reject(reply(550, "5.6.0", "Message rejected: no Date header"),
                                     "headers.date_missing", "")
                        .under(CheckMode::Warn, "date_missing"));
  };
  addClass("strict", "strict.example").judging.checkModes["headers.date_missing"] =
      CheckMode::Enforce;
  {
    Engine e = start();
    e.connect();
    e.helo("mx.sender.example");
    e.mail("a@sender.example");
    e.rcpt("one@example.com");
    EXPECT_EQ(e.endOfMessage().action, Action::Pass);  // the policy only warns
  }
  Engine e = start();
  e.connect();
  e.helo("mx.sender.example");
  e.mail("a@sender.example");
  e.rcpt("one@example.com");
  e.rcpt("two@strict.example");
  Verdict v = e.endOfMessage();
  ASSERT_EQ(v.action, Action::Reject);
  EXPECT_EQ(v.reply->toSmtp(), "550 5.6.0 Message rejected: no Date header\r\n");
  std::string trace = traceOf(e);
  EXPECT_NE(trace.find("headers:date_missing/reject_warning "), std::string::npos) << trace;
  EXPECT_NE(trace.find("headers:date_missing/reject@strict"), std::string::npos) << trace;
}

TEST_F(Classes, CheckBuiltInWarnModeIsJudgedWithThePolicysOwnMode) {
  auto helo = addStage("helo", PhaseSet{Phase::Helo});
  helo->helo = [](Connection&) { return Findings(heloNonFqdn(CheckMode::Warn)); };
  policy->judging.checkModes["helo.non_fqdn"] = CheckMode::Enforce;  // built warn for a class
  addClass("lenient", "lenient.example").judging.checkModes["helo.non_fqdn"] = CheckMode::Off;
  Engine e = start();
  e.connect();
  e.helo("host");
  e.mail("a@sender.example");
  EXPECT_EQ(e.rcpt("x@example.com").action, Action::Reject);
  EXPECT_EQ(e.rcpt("x@lenient.example").action, Action::Pass);
}

TEST_F(Classes, ClientSkipRuleKeepsTheStageFromRunning) {
  auto spf = addStage("spf", PhaseSet{Phase::Mail});
  int runs = 0;
  spf->mail = [&](Connection&) {
    ++runs;
    return Findings(Decision::reject(reply(550, "5.7.23", "SPF fail"), "spf.fail", "")
                        .under(CheckMode::Enforce, "fail"));
  };
  addAccess(AccessSubject::ClientAddress)->rules["192.0.2.9"] = skipRule({"spf", "dmarc"});
  Engine forwarder = start("192.0.2.9");
  forwarder.connect();
  forwarder.helo("fwd.example");
  forwarder.mail("a@sender.example");
  EXPECT_EQ(forwarder.rcpt("x@example.com").action, Action::Pass);
  EXPECT_EQ(runs, 0);
  EXPECT_NE(traceOf(forwarder).find("access:client/skip spf dmarc"), std::string::npos)
      << traceOf(forwarder);
  EXPECT_NE(forwarder.summaryLine().find("access:client/skip spf dmarc"), std::string::npos);
  Engine other = start("192.0.2.10");
  other.connect();
  other.helo("other.example");
  other.mail("a@sender.example");
  EXPECT_EQ(other.rcpt("x@example.com").action, Action::Reject);
  EXPECT_EQ(runs, 1);
}

TEST_F(Classes, ClientRejectRuleIsHeldToRcptAndSparesPostmaster) {
  addAccess(AccessSubject::ClientAddress)->rules["192.0.2.66"] = rejectRule(
      reply(554, "5.7.1", "Mail from your network is refused; write to abuse@example.com"));
  Engine e = start("192.0.2.66");
  e.connect();
  EXPECT_EQ(e.helo("spam.example").action, Action::Pass);
  EXPECT_EQ(e.mail("a@spam.example").action, Action::Pass);
  Verdict v = e.rcpt("x@example.com");
  ASSERT_EQ(v.action, Action::Reject);
  EXPECT_EQ(v.reply->toSmtp(),
            "554 5.7.1 Mail from your network is refused; write to abuse@example.com\r\n");
  EXPECT_EQ(v.reason, "access.reject");
  EXPECT_EQ(e.rcpt("postmaster@example.com").action, Action::Pass);
  EXPECT_NE(traceOf(e).find("access:reject/delayed"), std::string::npos) << traceOf(e);
}

TEST_F(Classes, RecipientRulesRejectSkipAndAllowOneRecipient) {
  auto grey = addStage("greylist", PhaseSet{Phase::Rcpt});
  grey->rcpt = [](Connection&, const std::string&) {
    return Findings(Decision::tempfail(reply(450, "4.2.0", "Greylisted"), "greylist.new", ""));
  };
  auto t = addAccess(AccessSubject::Recipient);
  t->rules["gone@example.com"] = rejectRule(reply(550, "5.1.1", "This address no longer exists"));
  t->rules["help@example.com"] = skipRule({"greylist"});
  AccessRule allow;
  allow.kind = AccessRule::Kind::Allow;
  t->rules["open@example.com"] = allow;
  Engine e = start();
  e.connect();
  e.helo("mx.sender.example");
  e.mail("a@sender.example");
  Verdict gone = e.rcpt("gone@example.com");
  ASSERT_EQ(gone.action, Action::Reject);
  EXPECT_EQ(gone.reply->toSmtp(), "550 5.1.1 This address no longer exists\r\n");
  EXPECT_EQ(e.rcpt("help@example.com").action, Action::Pass);
  EXPECT_EQ(e.rcpt("open@example.com").action, Action::Pass);
  EXPECT_EQ(e.rcpt("bob@example.com").action, Action::Tempfail);
  std::string line = e.summaryLine();
  EXPECT_NE(line.find("access:recipient/skip greylist"), std::string::npos) << line;
  EXPECT_NE(line.find("access:recipient/allow"), std::string::npos) << line;
  EXPECT_NE(line.find("access:reject/reject"), std::string::npos) << line;
  EXPECT_EQ(e.connection().trace.front().detail, "test.map:1: gone@example.com <gone@example.com>");
}

TEST_F(Classes, SenderAllowSkipsStagesFromMailButKeepsWhatConnectDecided) {
  auto rbl = addStage("rbl", PhaseSet{Phase::Connect});
  bool listed = false;
  rbl->connect = [&](Connection&) {
    return listed ? Findings(Decision::reject(reply(554, "5.7.1", "listed"), "rbl.listed", ""))
                  : Findings();
  };
  auto spf = addStage("spf", PhaseSet{Phase::Mail});
  spf->mail = [](Connection&) {
    return Findings(Decision::reject(reply(550, "5.7.23", "SPF fail"), "spf.fail", ""));
  };
  AccessRule allow;
  allow.kind = AccessRule::Kind::Allow;
  addAccess(AccessSubject::Sender)->rules["news@partner.example"] = allow;
  {
    Engine e = start();
    e.connect();
    e.helo("mx.partner.example");
    e.mail("news@partner.example");
    EXPECT_EQ(e.rcpt("x@example.com").action, Action::Pass);
    // The next message of the connection is judged again.
    e.endOfMessage();
    e.mail("other@partner.example");
    EXPECT_EQ(e.rcpt("x@example.com").action, Action::Reject);
  }
  listed = true;
  Engine e = start();
  e.connect();
  e.helo("mx.partner.example");
  e.mail("news@partner.example");
  EXPECT_EQ(e.rcpt("x@example.com").reason, "rbl.listed");
}

}  // namespace
}  // namespace mxguard
