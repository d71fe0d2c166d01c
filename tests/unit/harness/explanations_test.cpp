// explanations_test.cpp - every check a stage declares (an option X with a reply_X) has its
// explanation row, so --explain never says "(no explanation written ...)" for a shipped check.
#include "harness/explanations.h"

#include <gtest/gtest.h>

#include <set>

#include "stages/registry.h"

namespace mxguard::harness {
namespace {

TEST(Explanations, EveryDeclaredCheckHasItsRow) {
  // Reply options that are not reasons of their own (another reply of the same check).
  const std::set<std::string> notReasons{
      "dkim.no_author_signature", "rbl.tempfail", "callout.rejected" /* reply of callout.reject */,
      "ratelimit.store_failure", "dmarc.policy_reject" /* reply of dmarc.fail */};
  std::vector<std::string> missing;
  for (const auto& factory : stages::registry()) {
    std::set<std::string> names;
    for (const auto& spec : factory.options()) names.insert(spec.name);
    for (const auto& name : names) {
      if (name.rfind("reply_", 0) != 0) continue;
      std::string reason = std::string(factory.name) + "." + name.substr(6);
      if (notReasons.count(reason)) continue;
      if (!explanationFor(reason)) missing.push_back(reason);
    }
  }
  EXPECT_TRUE(missing.empty()) << "no explanation for: " << ::testing::PrintToString(missing);
  // Reasons that are not checks with a reply option.
  for (const char* r : {"rbl.listed", "spf.fail", "dkim.fail", "dkim.policy", "dkim.permerror",
                        "callout.cached_reject", "ratelimit.mail_per_ip", "dmarc.fail"})
    EXPECT_NE(explanationFor(r), nullptr) << r;
  EXPECT_EQ(explanationFor("rbl.nonsense"), nullptr);
}

}  // namespace
}  // namespace mxguard::harness
