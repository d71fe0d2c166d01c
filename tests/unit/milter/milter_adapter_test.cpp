// milter_adapter_test.cpp - the libmilter callbacks driven one by one with a fake SMFICTX and a
// fake MilterCalls seam: what each callback answers (SMFIS_*) and what it tells the MTA.
// Must not: open a socket or reach libmilter (every smfi_* call goes through the fake), or
// test policy (the Engine's own tests do): only that the adapter translates faithfully.
#include "milter/milter_adapter.h"

#include <gtest/gtest.h>
#include <libmilter/mfapi.h>

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/policy_holder.h"
#include "base/counters.h"
#include "base/log.h"
#include "core/auth_results.h"
#include "core/engine.h"
#include "fakes/fake_resolver.h"
#include "fakes/function_stage.h"

namespace mxguard::milter {
namespace {

Reply reply(int code, const char* enhanced, const std::string& text) {
  return *Reply::make(code, enhanced, text);
}

using testing::FunctionStage;

// One call the adapter made that the MTA would act on: the function, then its arguments.
using Call = std::vector<std::string>;
using Calls = std::vector<Call>;

// Stands in for libmilter: keeps the private pointer, serves macros, records what would reach
// the MTA. getpriv/getsymval are not recorded: they tell the MTA nothing.
class FakeMilter : public MilterCalls {
 public:
  void* getPriv(SMFICTX*) override { return priv; }
  int setPriv(SMFICTX*, void* p) override {
    priv = p;
    return MI_SUCCESS;
  }
  const char* getSymVal(SMFICTX*, const char* name) override {
    auto it = macros.find(name);
    return it == macros.end() ? nullptr : it->second.c_str();
  }
  int setReply(SMFICTX*, const char* code, const char* enhanced, const char* text) override {
    calls.push_back({"setreply", code, enhanced, text});
    return MI_SUCCESS;
  }
  int setMlReply(SMFICTX*, const char* code, const char* enhanced,
                 std::span<const char* const> lines) override {
    Call c{"setmlreply", code, enhanced};
    c.insert(c.end(), lines.begin(), lines.end());
    calls.push_back(std::move(c));
    return MI_SUCCESS;
  }
  int quarantine(SMFICTX*, const char* reason) override {
    calls.push_back({"quarantine", reason});
    return MI_SUCCESS;
  }
  int chgHeader(SMFICTX*, const char* name, int index, const char* value) override {
    calls.push_back({"chgheader", name, std::to_string(index), value ? value : "(null)"});
    return MI_SUCCESS;
  }
  int insHeader(SMFICTX*, int index, const char* name, const char* value) override {
    calls.push_back({"insheader", std::to_string(index), name, value});
    return MI_SUCCESS;
  }

  void* priv = nullptr;
  std::map<std::string, std::string> macros;
  Calls calls;
};

// libmilter's argv: the argument, then ESMTP parameters, then a null (the callbacks may not
// write to it, but the type is char**).
class Argv {
 public:
  explicit Argv(std::vector<std::string> args) : args_(std::move(args)) {
    for (auto& a : args_) ptrs_.push_back(a.data());
    ptrs_.push_back(nullptr);
  }
  char** get() { return ptrs_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<char*> ptrs_;
};

class MilterAdapter : public ::testing::Test {
 protected:
  void SetUp() override {
    setLogSink([this](LogLevel level, std::string_view m) {
      logs.push_back(std::string(toString(level)) + ": " + std::string(m));
    });
    policy->resolver = resolver;
    policy->incidents = &incidents;  // shares nothing with other tests, so any order works
    policy->engine.authservId = "mx.example.net";
    stage = std::make_shared<FunctionStage>();
    StageEntry e;
    e.stage = stage;
    e.phases = {Phase::Connect, Phase::Helo, Phase::Mail, Phase::Rcpt,
                Phase::Header,  Phase::Eoh,  Phase::Body, Phase::Eom};
    policy->stages.push_back(e);
    setMilterCallsForTests(&fake);
    setDefaultHostname("mx.example.net");
    setUnansweredData(false);
    // The leading-space option is process-wide (set at negotiation): start every test without.
    negotiate(SMFIP_NR_HDR | SMFIP_NR_BODY);
  }
  void TearDown() override {
    if (fake.priv) filter.xxfi_close(ctx);  // a failed assertion must not leak the connection
    setMilterCallsForTests(nullptr);
    setPolicyHolder(nullptr);
    setLogSink(nullptr);
  }

  // The policy as the test scripted it, served as the daemon serves one: from a PolicyHolder.
  sfsistat connect() {
    holder = std::make_unique<app::PolicyHolder>(policy);
    setPolicyHolder(holder.get());
    fake.macros["{client_addr}"] = "192.0.2.1";
    fake.macros["j"] = "mx.example.net";
    char hostname[] = "[192.0.2.1]";
    return filter.xxfi_connect(ctx, hostname, nullptr);
  }
  sfsistat helo(std::string name) { return filter.xxfi_helo(ctx, name.data()); }
  sfsistat mail(std::vector<std::string> args) {
    return filter.xxfi_envfrom(ctx, Argv(args).get());
  }
  sfsistat rcpt(std::string to) { return filter.xxfi_envrcpt(ctx, Argv({to}).get()); }
  sfsistat header(std::string name, std::string value) {
    return filter.xxfi_header(ctx, name.data(), value.data());
  }
  sfsistat eoh() { return filter.xxfi_eoh(ctx); }
  sfsistat body(std::string chunk) {
    return filter.xxfi_body(ctx, reinterpret_cast<unsigned char*>(chunk.data()), chunk.size());
  }
  sfsistat eom() { return filter.xxfi_eom(ctx); }
  sfsistat abort() { return filter.xxfi_abort(ctx); }
  sfsistat close() { return filter.xxfi_close(ctx); }
  sfsistat negotiate(unsigned long steps, unsigned long actions = SMFI_V2_ACTS) {
    unsigned long unused = 0;
    return filter.xxfi_negotiate(ctx, actions, steps, 0, 0, &wantActions, &wantSteps, &unused,
                                 &unused);
  }

  // Connect, HELO, MAIL and RCPT all answered "go on".
  void openMessage() {
    ASSERT_EQ(connect(), SMFIS_CONTINUE);
    ASSERT_EQ(helo("mail.example.org"), SMFIS_CONTINUE);
    ASSERT_EQ(mail({"<a@example.org>"}), SMFIS_CONTINUE);
    ASSERT_EQ(rcpt("<b@example.com>"), SMFIS_CONTINUE);
  }
  bool logged(const std::string& text) const {
    for (const auto& l : logs)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }

  std::shared_ptr<Policy> policy = std::make_shared<Policy>();
  std::shared_ptr<testing::FakeResolver> resolver = std::make_shared<testing::FakeResolver>();
  Incidents incidents;
  std::shared_ptr<FunctionStage> stage;
  std::unique_ptr<app::PolicyHolder> holder;
  FakeMilter fake;
  const smfiDesc filter = makeFilterDescription();
  int ctxStorage = 0;  // the SMFICTX is opaque to the adapter: any distinct address will do
  SMFICTX* ctx = reinterpret_cast<SMFICTX*>(&ctxStorage);
  unsigned long wantActions = 0, wantSteps = 0;
  std::vector<std::string> logs;
};

Findings listed(Connection&) {
  return Decision::reject(
      reply(554, "5.7.1", "Service unavailable; client [192.0.2.1] blocked: 100% spam"),
      "rbl.listed");
}

// libmilter cannot send a reply at connect, and Postfix's smtpd_delay_reject waits for RCPT.
TEST_F(MilterAdapter, ConnectRejectionIsAnsweredAtRcptWithPercentDoubled) {
  stage->connect = listed;
  EXPECT_EQ(connect(), SMFIS_CONTINUE);
  EXPECT_EQ(helo("mail.example.org"), SMFIS_CONTINUE);
  EXPECT_EQ(mail({"<a@example.org>"}), SMFIS_CONTINUE);
  EXPECT_TRUE(fake.calls.empty());
  EXPECT_EQ(rcpt("<b@example.com>"), SMFIS_REJECT);
  EXPECT_EQ(fake.calls, (Calls{{"setreply", "554", "5.7.1",
                                "Service unavailable; client [192.0.2.1] blocked: 100%% spam"}}));
  EXPECT_EQ(close(), SMFIS_CONTINUE);
  EXPECT_EQ(fake.priv, nullptr);  // the connection object went with the connection
}

TEST_F(MilterAdapter, AuthenticationAtMailDropsTheHeldRejection) {
  stage->connect = listed;
  EXPECT_EQ(connect(), SMFIS_CONTINUE);
  EXPECT_EQ(helo("laptop"), SMFIS_CONTINUE);
  fake.macros["{auth_authen}"] = "alice";  // the MTA sends it with MAIL
  EXPECT_EQ(mail({"<alice@example.com>"}), SMFIS_CONTINUE);
  EXPECT_EQ(rcpt("<bob@example.net>"), SMFIS_CONTINUE);
  EXPECT_TRUE(fake.calls.empty());
}

// Header and body steps go unanswered (SMFIP_NR_HDR/NR_BODY): the verdict waits for end of
// headers, and nothing later of that message runs.
TEST_F(MilterAdapter, HeaderRejectionIsAnsweredAtEndOfHeaders) {
  int headers = 0, bodies = 0, eoms = 0;
  stage->header = [&](Connection&, const Header& h) -> Findings {
    ++headers;
    if (h.name != "X-Bad") return {};
    return Decision::reject(reply(550, "5.7.1", "Message rejected: bad field"), "headers.bad");
  };
  stage->body = [&](Connection&) -> Findings {
    ++bodies;
    return {};
  };
  stage->eom = [&](Connection&) -> Findings {
    ++eoms;
    return {};
  };
  openMessage();
  EXPECT_EQ(header("Subject", "hi"), SMFIS_NOREPLY);
  EXPECT_EQ(header("X-Bad", "1"), SMFIS_NOREPLY);
  EXPECT_EQ(header("To", "<b@example.com>"), SMFIS_NOREPLY);
  EXPECT_TRUE(fake.calls.empty());
  EXPECT_EQ(eoh(), SMFIS_REJECT);
  const Calls rejected{{"setreply", "550", "5.7.1", "Message rejected: bad field"}};
  EXPECT_EQ(fake.calls, rejected);
  // The MTA sends nothing more of this message; were it to, the same verdict stands.
  fake.calls.clear();
  EXPECT_EQ(body("text\r\n"), SMFIS_NOREPLY);
  EXPECT_EQ(eom(), SMFIS_REJECT);
  EXPECT_EQ(fake.calls, rejected);
  EXPECT_EQ(headers, 2);
  EXPECT_EQ(bodies, 0);
  EXPECT_EQ(eoms, 0);
}

// The exception firewall: a bug in an unanswered step becomes a tempfail at the next answered
// one, with the MTA's own text, and does not follow the connection into its next message.
TEST_F(MilterAdapter, ExceptionInHeaderStepTempfailsAtEndOfHeadersOnly) {
  int headers = 0, eoms = 0;
  stage->header = [&](Connection&, const Header& h) -> Findings {
    ++headers;
    if (h.name == "X-Boom") throw std::runtime_error("stage bug");
    return {};
  };
  stage->eom = [&](Connection&) -> Findings {
    ++eoms;
    return {};
  };
  openMessage();
  EXPECT_EQ(header("X-Boom", "1"), SMFIS_NOREPLY);
  EXPECT_EQ(header("Subject", "hi"), SMFIS_NOREPLY);  // not given to the stages
  EXPECT_EQ(eoh(), SMFIS_TEMPFAIL);
  EXPECT_TRUE(fake.calls.empty());
  EXPECT_TRUE(logged("header: internal error: stage bug; answering tempfail"));
  EXPECT_EQ(headers, 1);

  EXPECT_EQ(abort(), SMFIS_CONTINUE);  // what the MTA sends after the tempfail
  EXPECT_EQ(mail({"<a@example.org>"}), SMFIS_CONTINUE);
  EXPECT_EQ(rcpt("<b@example.com>"), SMFIS_CONTINUE);
  EXPECT_EQ(header("Subject", "again"), SMFIS_NOREPLY);
  EXPECT_EQ(eoh(), SMFIS_CONTINUE);
  EXPECT_EQ(body("text\r\n"), SMFIS_NOREPLY);
  EXPECT_EQ(eom(), SMFIS_CONTINUE);
  EXPECT_TRUE(fake.calls.empty());
  EXPECT_EQ(headers, 2);
  EXPECT_EQ(eoms, 1);
}

// An MTA that skips abort before the next MAIL must not carry the failure over either.
TEST_F(MilterAdapter, ExceptionInBodyStepIsForgottenAtTheNextMail) {
  stage->body = [](Connection&) -> Findings { throw std::runtime_error("stage bug"); };
  openMessage();
  EXPECT_EQ(eoh(), SMFIS_CONTINUE);
  EXPECT_EQ(body("text\r\n"), SMFIS_NOREPLY);
  stage->body = nullptr;  // the next message has nothing wrong with it
  EXPECT_EQ(mail({"<a@example.org>"}), SMFIS_CONTINUE);
  EXPECT_EQ(rcpt("<b@example.com>"), SMFIS_CONTINUE);
  EXPECT_EQ(eoh(), SMFIS_CONTINUE);
  EXPECT_EQ(body("text\r\n"), SMFIS_NOREPLY);
  EXPECT_EQ(eom(), SMFIS_CONTINUE);
}

// The stages' results for an accepted message, with the forged Authentication-Results (our
// authserv-id) removed. Deleting field 1 first would make field 3 field 2: highest first.
void addResults(FunctionStage& stage) {
  stage.mail = [](Connection& tx) -> Findings {
    tx.message.authResults.push_back({"spf", "pass", "", {{"smtp.mailfrom", "a@example.org"}}});
    return {};
  };
  stage.eom = [](Connection& tx) -> Findings {
    tx.message.authResults.push_back({"dkim", "pass", "", {{"header.d", "example.org"}}});
    return {};
  };
}
const char* const kResults =
    "mx.example.net;\n\tspf=pass smtp.mailfrom=a@example.org;\n\tdkim=pass header.d=example.org";

TEST_F(MilterAdapter, HeaderEditsDeleteForgedResultsHighestFirstThenInsert) {
  addResults(*stage);
  openMessage();
  EXPECT_EQ(header("Authentication-Results", "mx.example.net; spf=pass"), SMFIS_NOREPLY);
  EXPECT_EQ(header("Authentication-Results", "other.example; spf=fail"), SMFIS_NOREPLY);
  EXPECT_EQ(header("Subject", "hi"), SMFIS_NOREPLY);
  EXPECT_EQ(header("Authentication-Results", "MX.example.net; dkim=pass"), SMFIS_NOREPLY);
  EXPECT_EQ(eoh(), SMFIS_CONTINUE);
  EXPECT_EQ(body("text\r\n"), SMFIS_NOREPLY);
  EXPECT_TRUE(fake.calls.empty());
  EXPECT_EQ(eom(), SMFIS_CONTINUE);
  EXPECT_EQ(fake.calls, (Calls{{"chgheader", "Authentication-Results", "3", "(null)"},
                               {"chgheader", "Authentication-Results", "1", "(null)"},
                               {"insheader", "0", "Authentication-Results", kResults}}));
}

// With SMFIP_HDR_LEADSPC the MTA passes and inserts values exactly as written: the space after
// the colon comes in with the value and must go out with ours.
TEST_F(MilterAdapter, HeaderEditsWithLeadingSpaceNegotiated) {
  ASSERT_EQ(negotiate(SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC), SMFIS_CONTINUE);
  addResults(*stage);
  openMessage();
  EXPECT_EQ(header("Authentication-Results", " mx.example.net; spf=pass"), SMFIS_NOREPLY);
  EXPECT_EQ(eom(), SMFIS_CONTINUE);
  EXPECT_EQ(fake.calls,
            (Calls{{"chgheader", "Authentication-Results", "1", "(null)"},
                   {"insheader", "0", "Authentication-Results", std::string(" ") + kResults}}));
}

TEST_F(MilterAdapter, QuarantineIsAskedForAtEndOfMessage) {
  stage->mail = [](Connection&) -> Findings {
    Decision d = Decision::pass("content.suspicious");
    d.action = Action::Quarantine;
    return d;
  };
  openMessage();
  EXPECT_EQ(eoh(), SMFIS_CONTINUE);
  EXPECT_TRUE(fake.calls.empty());
  EXPECT_EQ(eom(), SMFIS_CONTINUE);
  EXPECT_EQ(fake.calls, (Calls{{"quarantine", "content.suspicious"}}));
}

// A reply longer than one SMTP line (512 octets) goes out as smfi_setmlreply, lines in order.
TEST_F(MilterAdapter, LongReplyUsesMultiLineReplyInOrder) {
  std::string text = "Recipient address rejected:";
  for (int i = 0; i < 120; ++i) text += " w" + std::to_string(1000 + i) + "%";
  ASSERT_GT(text.size(), Reply::kMaxLineOctets);
  stage->rcpt = [&](Connection&, const std::string&) -> Findings {
    return Decision::reject(reply(550, "5.1.1", text), "callout.rejected");
  };
  EXPECT_EQ(connect(), SMFIS_CONTINUE);
  EXPECT_EQ(mail({"<a@example.org>"}), SMFIS_CONTINUE);
  EXPECT_EQ(rcpt("<b@example.com>"), SMFIS_REJECT);
  ASSERT_EQ(fake.calls.size(), 1u);
  const Call& c = fake.calls[0];
  ASSERT_GE(c.size(), 5u);  // function, code, enhanced code, at least two lines
  EXPECT_EQ(Call(c.begin(), c.begin() + 3), (Call{"setmlreply", "550", "5.1.1"}));
  const std::vector<std::string> lines(c.begin() + 3, c.end());
  EXPECT_EQ(lines, reply(550, "5.1.1", text).milterLines());
  std::string joined;
  for (const auto& l : lines) joined += (joined.empty() ? "" : " ") + l;
  std::string doubled;
  for (char ch : text) doubled += ch == '%' ? std::string("%%") : std::string(1, ch);
  EXPECT_EQ(joined, doubled);  // the words in their order, none lost at a line break
}

TEST_F(MilterAdapter, NegotiatesUnansweredHeaderAndBodyAndLeadingSpaceWhenOffered) {
  const unsigned long offered = SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NR_DATA | SMFIP_NR_CONN |
                                SMFIP_NR_RCPT | SMFIP_SKIP | SMFIP_RCPT_REJ;
  EXPECT_EQ(negotiate(offered | SMFIP_HDR_LEADSPC), SMFIS_CONTINUE);
  EXPECT_EQ(wantSteps, SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC);
  EXPECT_EQ(wantActions, SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
  EXPECT_EQ(negotiate(offered), SMFIS_CONTINUE);
  EXPECT_EQ(wantSteps, SMFIP_NR_HDR | SMFIP_NR_BODY);
  // DATA goes unanswered only when the daemon says so (unix socket).
  setUnansweredData(true);
  EXPECT_EQ(negotiate(offered), SMFIS_CONTINUE);
  EXPECT_EQ(wantSteps, SMFIP_NR_HDR | SMFIP_NR_BODY | SMFIP_NR_DATA);
  setUnansweredData(false);
}

// No connection object (connect failed): the MTA's milter_default_action decides.
TEST_F(MilterAdapter, CallbackWithoutConnectionAnswersTempfail) {
  EXPECT_EQ(helo("mail.example.org"), SMFIS_TEMPFAIL);
  EXPECT_EQ(eom(), SMFIS_TEMPFAIL);
  EXPECT_TRUE(fake.calls.empty());
}

// One private pointer per context, for tests that hold several connections at once.
class ManyConnections : public FakeMilter {
 public:
  void* getPriv(SMFICTX* c) override { return privs[c]; }
  int setPriv(SMFICTX* c, void* p) override {
    privs[c] = p;
    return MI_SUCCESS;
  }
  std::map<SMFICTX*, void*> privs;
};

// Over max_connections the MTA hears 421 at once (Postfix closes the session), nothing of ours
// is allocated for it, and the refusal is logged and counted; a closed connection frees its slot.
TEST_F(MilterAdapter, ConnectionsOverTheLimitAreRefusedWith421) {
  ManyConnections many;
  many.macros = {{"{client_addr}", "192.0.2.1"}, {"j", "mx.example.net"}};
  setMilterCallsForTests(&many);
  holder = std::make_unique<app::PolicyHolder>(policy);
  setPolicyHolder(holder.get());
  setConnectionLimit(2);
  resetLogOncePerForTests();  // the refusal's log line is once per 10 s, process-wide
  int storage[3] = {};
  SMFICTX* c[3];
  for (int i = 0; i < 3; ++i) c[i] = reinterpret_cast<SMFICTX*>(&storage[i]);
  char name[] = "[192.0.2.1]";
  uint64_t before = counterValue("milter.connection_limit");
  EXPECT_EQ(filter.xxfi_connect(c[0], name, nullptr), SMFIS_CONTINUE);
  EXPECT_EQ(filter.xxfi_connect(c[1], name, nullptr), SMFIS_CONTINUE);
  EXPECT_TRUE(many.calls.empty());
  EXPECT_EQ(filter.xxfi_connect(c[2], name, nullptr), SMFIS_TEMPFAIL);
  EXPECT_EQ(many.calls, (Calls{{"setreply", "421", "4.7.0",
                                "mx.example.net Error: too many connections; try again later"}}));
  EXPECT_EQ(many.privs[c[2]], nullptr);
  EXPECT_EQ(counterValue("milter.connection_limit"), before + 1);
  EXPECT_TRUE(
      logged("warning: connection from 192.0.2.1 refused with 421 4.7.0: 2 connections "
             "open, the limit (max_connections = 2)"));
  // The refused connection's later steps: tempfail; its close frees nothing.
  char helo[] = "mail.example.org";
  EXPECT_EQ(filter.xxfi_helo(c[2], helo), SMFIS_TEMPFAIL);
  EXPECT_EQ(filter.xxfi_close(c[2]), SMFIS_CONTINUE);
  EXPECT_EQ(filter.xxfi_connect(c[2], name, nullptr), SMFIS_TEMPFAIL);
  // One closes: the next is admitted.
  EXPECT_EQ(filter.xxfi_close(c[0]), SMFIS_CONTINUE);
  EXPECT_EQ(filter.xxfi_connect(c[2], name, nullptr), SMFIS_CONTINUE);
  EXPECT_EQ(filter.xxfi_close(c[1]), SMFIS_CONTINUE);
  EXPECT_EQ(filter.xxfi_close(c[2]), SMFIS_CONTINUE);
  setConnectionLimit(kDefaultConnectionLimit);
  setMilterCallsForTests(&fake);
}

}  // namespace
}  // namespace mxguard::milter
