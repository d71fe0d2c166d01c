// policy_classes_test.cpp - [access] maps and [class NAME] sections through the policy loader
// and the real stages: each recipient judged by its class, access rules from map files next to
// the policy, and every mistake refused with FILE:LINE: and what to write instead.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "app/policy_loader.h"
#include "config/config_error.h"
#include "core/engine.h"
#include "fakes/fake_resolver.h"
#include "store/memory_store.h"
#include "unit/app/policy_test_support.h"

namespace mxguard::app {
namespace {

namespace fs = std::filesystem;

struct PolicyDir : ::testing::Test {
  void SetUp() override {
    char tmpl[] = "/tmp/mxguard-classes-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), 0644);
    return path;
  }
  PolicySharedPtr load(const std::string& text) {
    return loadPolicyFile(write("policy.conf", text), options());
  }
  std::string loadError(const std::string& text) {
    try {
      load(text);
    } catch (const config::ConfigError& e) {
      std::string what = e.what();
      if (what.rfind(dir + "/", 0) == 0) what = what.substr(dir.size() + 1);
      return what;
    }
    return "no error";
  }
  // One transaction: HELO `helo`, then each recipient's reply as the client reads it ("" when
  // accepted).
  static std::vector<std::string> replies(const PolicySharedPtr& p, const std::string& helo,
                                          const std::vector<std::string>& rcpts,
                                          const char* ip = "192.0.2.1") {
    Engine e(p);
    e.connection().client.clientIp = IpAddress::parse(ip);
    e.connection().client.clientAddress = ip;
    e.connect();
    e.helo(helo);
    e.mail("a@sender.example");
    std::vector<std::string> out;
    for (const auto& r : rcpts) {
      Verdict v = e.rcpt(r);
      out.push_back(v.reply ? v.reply->toSmtp() : "");
    }
    return out;
  }
  std::string dir;
};

// What the helo stage replies to HELO "host" under non_fqdn = reject.
const char* kNonFqdn = "504 5.5.2 <host>: Helo command rejected: need fully-qualified hostname\r\n";

const char* kHeloWarn = "[engine]\nstages = helo\nwhitelist_clients =\n[helo]\nnon_fqdn = warn\n";

TEST_F(PolicyDir, StricterClassRejectsItsRecipientsOnly) {
  auto p = load(std::string(kHeloWarn) +
                "[class finance]\nrecipients = @finance.example.com\nhelo.non_fqdn = reject\n");
  ASSERT_EQ(p->classes.size(), 1u);
  EXPECT_TRUE(p->judgesPerRecipient);
  EXPECT_EQ(replies(p, "host", {"x@example.com", "y@finance.example.com", "z@example.com"}),
            (std::vector<std::string>{"", kNonFqdn, ""}));
}

// The policy rejects a check a class turns off: the stage is built in warn mode (so it goes on
// checking for the class) and the policy still rejects with its own mode.
TEST_F(PolicyDir, LenientClassOfACheckThePolicyRejects) {
  auto p = load(
      "[engine]\nstages = helo\nwhitelist_clients =\n[helo]\nnon_fqdn = reject\n"
      "[class lenient]\nrecipients = lenient.example support@\nhelo.non_fqdn = off\n");
  EXPECT_EQ(p->judging.checkModes.at("helo.non_fqdn"), CheckMode::Enforce);
  EXPECT_EQ(replies(p, "host",
                    {"x@example.com", "y@lenient.example", "support@example.com",
                     "y@sub.lenient.example"}),
            (std::vector<std::string>{kNonFqdn, "", "", kNonFqdn}));
}

TEST_F(PolicyDir, ClassRecipientsFromAMapNextToThePolicy) {
  write("finance.domains",
        "# finance and its subsidiaries\nfinance.example.com\n.finance.example.com\n");
  auto p = load(std::string(kHeloWarn) +
                "[class finance]\nrecipients = domain:finance.domains\nhelo.non_fqdn = reject\n");
  EXPECT_EQ(
      replies(p, "host", {"a@finance.example.com", "b@eu.finance.example.com", "c@example.com"}),
      (std::vector<std::string>{kNonFqdn, kNonFqdn, ""}));
}

TEST_F(PolicyDir, AccessMapsSkipAllowAndRejectPerSubject) {
  write("clients.cidr",
        "192.0.2.0/24    skip helo\n"
        "192.0.2.66      reject 554 5.7.1 Mail from your host is refused; write to "
        "abuse@example.com\n");
  write("recipients",
        "gone@example.com  reject 550 5.1.1 This address no longer exists\n"
        "@lenient.example  skip helo.non_fqdn\n");
  auto p = load(
      "[engine]\nstages = helo\nwhitelist_clients =\n[helo]\nnon_fqdn = reject\n"
      "[access]\nclients = cidr:clients.cidr\nrecipients = address:recipients\n");
  EXPECT_EQ(replies(p, "host", {"x@example.com"}, "192.0.2.7"), (std::vector<std::string>{""}));
  EXPECT_EQ(replies(p, "host", {"x@example.com", "postmaster@example.com"}, "192.0.2.66"),
            (std::vector<std::string>{
                "554 5.7.1 Mail from your host is refused; write to abuse@example.com\r\n", ""}));
  EXPECT_EQ(
      replies(p, "host", {"x@example.com", "gone@example.com", "y@lenient.example"},
              "198.51.100.1"),
      (std::vector<std::string>{kNonFqdn, "550 5.1.1 This address no longer exists\r\n", ""}));
}

TEST_F(PolicyDir, BrokenMapsAndClassesAreRefusedWithTheirLine) {
  write("bad.cidr", "192.0.2.0/24 allow\n192.0.2.1 rejekt\n");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[access]\nclients = cidr:bad.cidr\n"),
            "bad.cidr:2: unknown action 'rejekt' (use allow, skip STAGE|STAGE.CHECK..., reject "
            "[CODE X.Y.Z] [text] or tempfail [CODE X.Y.Z] [text])");
  write("skip.cidr", "192.0.2.0/24 skip spff\n");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[access]\nclients = cidr:skip.cidr\n"),
            "skip.cidr:1: cannot skip 'spff': no stage 'spff' (stages: behaviour, callout, dkim, "
            "dmarc, greylist, headers, helo, ratelimit, rbl, rdns, spf)");
  write("code.cidr", "192.0.2.0/24 reject 450 4.7.1 later\n");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[access]\nclients = cidr:code.cidr\n"),
            "code.cidr:1: reject needs a 5xx reply code, not 450");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[access]\nhelo = cidr:skip.cidr\n"),
            "policy.conf:4: access.helo: 'cidr:skip.cidr' is not KIND:PATH with a kind this option "
            "takes (hostname:, domain:, regexp:)");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[access]\nclients = cidr:missing.cidr\n"),
            "missing.cidr: cannot open: No such file or directory");
  EXPECT_EQ(loadError("[engine]\nstages = helo rbl\n[class x]\nrecipients = @a.example\n"
                      "rbl.threshold = 2\n"),
            "policy.conf:5: class x.rbl.threshold: 'threshold' is not a check of [rbl]: a class "
            "can set its checks (reject|warn|off), mode and on_failure; every other setting is "
            "looked up once for all classes: set it in [rbl]");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[class x]\nrecipients = @a.example\n"
                      "spf.fail = reject\n"),
            "policy.conf:5: class x.spf.fail: stage 'spf' is not in [engine] stages: a class "
            "judges the policy's stages, it cannot add one (list it there, and skip it in the "
            "classes that should not run it)");
  EXPECT_EQ(
      loadError("[engine]\nstages = helo\n[class x]\nhelo.non_fqdn = block\n"
                "recipients = @a.example\n"),
      "policy.conf:4: class x.helo.non_fqdn: invalid value 'block' (use reject, warn or off)");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[class x]\nhelo.non_fqdn = warn\n"),
            "policy.conf:3: class x.recipients: a class needs recipients (maps KIND:PATH, or "
            "user@domain, user@, @domain, domain)");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[class Finance]\nrecipients = @a.example\n"),
            "policy.conf:3: class name 'Finance' must be lower-case letters, digits, '_' or '-'");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[class x]\nrecipients = @a.example\n"
                      "skip = helo.nonfqdn\n"),
            "policy.conf:5: class x.skip: cannot skip 'helo.nonfqdn': [helo] has no check "
            "'nonfqdn'");
}

TEST_F(PolicyDir, AGroupWritableMapIsRefused) {
  std::string path = write("open.cidr", "192.0.2.0/24 allow\n");
  chmod(path.c_str(), 0664);
  std::string error = loadError("[engine]\nstages = helo\n[access]\nclients = cidr:open.cidr\n");
  EXPECT_EQ(error,
            "open.cidr: mode 0664 lets group change this file, which decides what mxguard "
            "does with mail; run: chmod go-w " +
                path);
}

}  // namespace
}  // namespace mxguard::app
