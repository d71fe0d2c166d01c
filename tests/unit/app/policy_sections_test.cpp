// policy_sections_test.cpp - every section of a policy is checked whether or not its stage is in
// [engine] stages (an unlisted stage's typo is an error naming FILE:LINE: OPTION, not something
// found the day the stage is listed); and the shipped policies load without a single warning.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app/policy_loader.h"
#include "base/log.h"
#include "config/config_error.h"
#include "fakes/fake_resolver.h"
#include "store/memory_store.h"
#include "unit/app/policy_test_support.h"

namespace mxguard::app {
namespace {

// The log lines (any level) of loading `load`.
template <class F>
std::vector<std::string> logsOf(F load) {
  std::vector<std::string> logs;
  setLogSink([&](LogLevel level, std::string_view m) {
    logs.push_back(std::string(toString(level)) + ": " + std::string(m));
  });
  try {
    load();
  } catch (...) {
    setLogSink(nullptr);
    throw;
  }
  setLogSink(nullptr);
  return logs;
}

TEST(PolicySections, AnUnlistedStagesUnknownOptionIsAnError) {
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[rdns]\ncolour = blue\n"),
            "p.conf:4: rdns.colour: unknown option 'colour' in [rdns]; known options: mode, "
            "on_failure, timeout, no_ptr, reply_no_ptr, not_confirmed, reply_not_confirmed, "
            "dynamic, reply_dynamic, dynamic_patterns, tempfail_reply");
  // No stage listed at all: the sections are checked all the same.
  EXPECT_EQ(loadError("[engine]\n[greylist]\n\ndelay = 5m\nretry_windw = 2d\n"),
            "p.conf:5: greylist.retry_windw: unknown option 'retry_windw' in [greylist]; known "
            "options: mode, on_failure, timeout, delay, retry_window, pass_ttl, auto_allow_after, "
            "auto_allow_ttl, ipv4_prefix, ipv6_prefix, normalize_sender, exempt_clients, "
            "exempt_spf_domains, pool_networks, exempt_recipients, reply_store_failure, "
            "greylisted, reply_greylisted");
}

TEST(PolicySections, AnUnlistedStagesBadValueIsAnError) {
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[rdns]\nno_ptr = sometimes\n"),
            "p.conf:4: rdns.no_ptr: invalid value 'sometimes' (use reject, warn or off)");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[rdns]\nmode = loud\n"),
            "p.conf:4: rdns.mode: invalid value 'loud' (use enforce or observe)");
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[greylist]\ndelay = soon\n"),
            "p.conf:4: greylist.delay: invalid duration 'soon' (use e.g. 500ms, 5s, 2m)");
  // What the stage itself checks (a reply template's variables) too.
  std::string e = loadError(
      "[engine]\nstages = helo\n[rdns]\nreply_no_ptr = 550 5.7.25 no PTR for ${client_adress}\n");
  EXPECT_TRUE(e.starts_with("p.conf:4: rdns.reply_no_ptr: unknown variable ${client_adress}")) << e;
}

TEST(PolicySections, AnUnknownSectionIsAnErrorListedStagesOrNot) {
  const std::string known =
      "known: engine, access, class NAME, rbl, helo, rdns, callout, spf, behaviour, ratelimit, "
      "greylist, headers, dkim, dmarc";
  EXPECT_EQ(loadError("[engine]\nstages = helo\n[helo]\n[rnds]\nno_ptr = warn\n"),
            "p.conf:4: rnds: unknown section [rnds]; " + known);
  EXPECT_EQ(loadError("[engine]\n[spam]\n"), "p.conf:2: spam: unknown section [spam]; " + known);
}

TEST(PolicySections, AValidUnlistedSectionStillLoadsWithItsWarning) {
  std::vector<std::string> logs;
  PolicySharedPtr p;
  logs = logsOf([&] {
    p = loadPolicyText("[engine]\nstages = helo\n[rdns]\nno_ptr = warn\n", "p.conf", options());
  });
  ASSERT_EQ(p->stages.size(), 1u);
  EXPECT_EQ(p->stages[0].stage->name(), "helo");
  EXPECT_EQ(logs, (std::vector<std::string>{
                      "warning: p.conf:3: section [rdns] is configured but not listed in "
                      "engine.stages: it does not run"}));
}

// What an admin copies to /etc/mxguard must start without a line of warning: a warning on every
// start and reload teaches to ignore warnings.
TEST(PolicySections, ShippedPoliciesLoadWithoutAWarning) {
  for (const char* name : {"default", "strict"}) {
    std::string path = std::string(MXGUARD_SOURCE_DIR) + "/policies/" + name + ".conf";
    std::vector<std::string> logs = logsOf([&] { loadPolicyFile(path, options()); });
    std::string all;
    for (const auto& l : logs) all += "\n  " + l;
    EXPECT_TRUE(logs.empty()) << "policies/" << name << ".conf logs at load:" << all;
  }
}

}  // namespace
}  // namespace mxguard::app
