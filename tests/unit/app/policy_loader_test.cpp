// policy_loader_test.cpp - whole policies: engine options, stage order, common stage options,
// and every load error naming file, line and option; the shipped policies load.
#include "app/policy_loader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "base/log.h"
#include "config/config_error.h"
#include "fakes/fake_resolver.h"
#include "stages/registry.h"
#include "store/memory_store.h"
#include "unit/app/policy_test_support.h"

namespace mxguard::app {
namespace {

TEST(PolicyLoader, BuildsEngineSettingsAndStagesInOrder) {
  auto p = loadPolicyText(
      "[engine]\nstages = rdns helo\ndelay_reject = no\nsoft_bounce = yes\n"
      "exempt_recipients = Postmaster hostmaster\nwhitelist_clients = 10.0.0.0/8, 2001:db8::/32\n"
      "whitelist_authenticated = no\ndns_budget = 3s\n[helo]\nmode = observe\non_failure = "
      "accept\ntimeout = "
      "750ms\n",
      "p.conf", options());
  EXPECT_FALSE(p->engine.delayReject);
  EXPECT_TRUE(p->engine.softBounce);
  EXPECT_FALSE(p->engine.whitelistAuthenticated);
  EXPECT_EQ(p->engine.dnsBudget, std::chrono::milliseconds(3000));
  EXPECT_EQ(p->engine.exemptLocalParts, (std::vector<std::string>{"postmaster", "hostmaster"}));
  ASSERT_EQ(p->engine.whitelistClients.size(), 2u);
  EXPECT_TRUE(p->engine.whitelistClients[0].contains(*IpAddress::parse("10.1.2.3")));
  ASSERT_EQ(p->stages.size(), 2u);
  EXPECT_EQ(p->stages[0].stage->name(), "rdns");
  EXPECT_EQ(p->stages[0].mode, StageMode::Enforce);
  EXPECT_EQ(p->stages[0].onFailure, FailureMode::Tempfail);
  EXPECT_EQ(p->stages[1].stage->name(), "helo");
  EXPECT_EQ(p->stages[1].mode, StageMode::Observe);
  EXPECT_EQ(p->stages[1].onFailure, FailureMode::Accept);
  EXPECT_EQ(p->stages[1].dnsTimeout, std::chrono::milliseconds(750));
  EXPECT_TRUE(p->stages[1].phases.contains(Phase::Mail));
  EXPECT_FALSE(p->stages[1].phases.contains(Phase::Connect));
}

TEST(PolicyLoader, ErrorsNameFileLineAndOption) {
  EXPECT_EQ(loadError("[engine]\nstages = rbl spam\n[rbl]\nzone = a.example.net\n"),
            "p.conf:2: engine.stages: unknown stage 'spam'; known stages: rbl, helo, rdns, "
            "callout, spf, behaviour, ratelimit, greylist, headers, dkim, dmarc");
  EXPECT_EQ(loadError("[engine]\nstages = helo helo\n"),
            "p.conf:2: engine.stages: stage 'helo' listed twice");
  EXPECT_EQ(loadError("[engine]\n[spam]\n"),
            "p.conf:2: spam: unknown section [spam]; known: engine, access, class NAME, rbl, helo, "
            "rdns, callout, spf, "
            "behaviour, ratelimit, greylist, headers, dkim, dmarc");
  // dmarc reads what spf and dkim recorded: they run first.
  EXPECT_EQ(loadError("[engine]\nstages = spf dmarc dkim\n"),
            "p.conf:2: engine.stages: stage 'dmarc' reads the results of spf and dkim: list them "
            "before 'dmarc'");
  EXPECT_EQ(loadError("[engine]\nstages = dkim dmarc\n"),
            "p.conf:2: engine.stages: stage 'dmarc' reads the results of spf and dkim: list them "
            "before 'dmarc'");
  EXPECT_EQ(loadError("stages = helo\n"),
            "p.conf:1: options must be inside a section ([engine] or a stage name)");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[helo]\non_failure = maybe\n"),
            "p.conf:4: helo.on_failure: invalid value 'maybe' (use tempfail or accept)");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[helo]\ntimeout = 5ms\n"),
            "p.conf:4: helo.timeout: value 5ms is below the minimum 10ms");
  EXPECT_EQ(loadError("[engine]\ndns_budget = 11m\n"),
            "p.conf:2: engine.dns_budget: value 11m is above the maximum 10m");
  EXPECT_EQ(loadError("[engine]\nwhitelist_clients = 10.0.0.0/8 nonsense\n"),
            "p.conf:2: engine.whitelist_clients: invalid address or CIDR 'nonsense' (use e.g. "
            "192.0.2.0/24 or 2001:db8::/32)");
  EXPECT_EQ(
      loadError("[engine]\nstages = rbl\n"),
      "p.conf: rbl.zone: no zone configured: add e.g. 'zone = zen.spamhaus.org=127.0.0.[2..11]'");
}

TEST(PolicyLoader, UnlistedSectionIsAWarningNotAnError) {
  std::vector<std::string> logs;
  setLogSink([&](LogLevel, std::string_view m) { logs.emplace_back(m); });
  auto p = loadPolicyText("[engine]\nstages = helo\n[rdns]\nno_ptr = warn\n", "p.conf", options());
  setLogSink(nullptr);
  EXPECT_EQ(p->stages.size(), 1u);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(
      logs[0],
      "p.conf:3: section [rdns] is configured but not listed in engine.stages: it does not run");
}

TEST(PolicyLoader, ShippedPoliciesLoad) {
  for (const char* name : {"default", "strict"}) {
    auto p =
        loadPolicyFile(std::string(MXGUARD_SOURCE_DIR) + "/policies/" + name + ".conf", options());
    EXPECT_EQ(p->stages.size(), std::string(name) == "strict" ? 11u : 8u) << name;
  }
}

// Every option a stage declares is shown (set or commented out) in both shipped policies, so an
// admin reading them sees everything there is to set.
TEST(PolicyLoader, ShippedPoliciesShowEveryStageOption) {
  for (const char* name : {"default", "strict"}) {
    std::ifstream in(std::string(MXGUARD_SOURCE_DIR) + "/policies/" + name + ".conf");
    std::stringstream text;
    text << in.rdbuf();
    std::string s = "\n" + text.str();
    for (const auto& factory : stages::registry()) {
      size_t start = s.find("\n[" + std::string(factory.name) + "]");
      if (start == std::string::npos) start = s.find("\n# [" + std::string(factory.name) + "]");
      ASSERT_NE(start, std::string::npos) << name << " has no [" << factory.name << "]";
      size_t end = std::min(s.find("\n[", start + 1), s.find("\n# [", start + 1));
      std::string section = s.substr(start, end - start);
      for (const auto& spec : factory.options()) {
        bool shown = section.find("\n" + spec.name + " =") != std::string::npos ||
                     section.find("\n# " + spec.name + " =") != std::string::npos;
        EXPECT_TRUE(shown) << name << ".conf does not show [" << factory.name << "] " << spec.name;
      }
    }
  }
}

}  // namespace
}  // namespace mxguard::app
