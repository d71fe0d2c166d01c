// forged_fields_test.cpp - issue 28 from the policy file to the dialogue: [engine]
// max_forged_authentication_results caps the forgeries removed, more is the exact 550 at the end
// of DATA (450 under soft_bounce), and the option's bounds are checked at load.
// Must not: resolve anything: no stage listed, so the engine's rule is all that runs.
#include <gtest/gtest.h>

#include "app/policy_loader.h"
#include "config/config_error.h"
#include "fakes/fake_resolver.h"
#include "harness/dialogue.h"
#include "harness/report.h"

namespace mxguard::testing {
namespace {

harness::Outcome run(const std::string& engineOptions, int forged) {
  app::PolicyLoadOptions o;
  o.resolver = std::make_shared<FakeResolver>();
  o.ourHostname = "mx.example.net";
  auto policy =
      app::loadPolicyText("[engine]\nstages =\nwhitelist_clients =\n" + engineOptions, "t.conf", o);
  std::string m = "From: a@example.org\r\nSubject: x\r\n";
  for (int i = 0; i < forged; ++i) m += "Authentication-Results: mx.example.net.; spf=pass\r\n";
  harness::Transcript t;
  t.clientIp = "192.0.2.10";
  t.helo = "mail.example.org";
  t.sender = "a@example.org";
  t.recipients = {"b@example.net"};
  t.message = m + "\r\nbody\r\n";
  t.ourHostname = "mx.example.net";
  return harness::runDialogue(policy, t);
}

std::string endOfData(const harness::Outcome& o) {
  for (const auto& s : o.steps)
    if (s.command == "(end of data)")
      return std::to_string(s.code) + " " + s.enhanced + " " + s.text;
  return "(no DATA)";
}

TEST(ForgedFields, TheConfiguredCapIsRemovedAndOneMoreRefused) {
  auto atCap = run("max_forged_authentication_results = 2\n", 2);
  EXPECT_EQ(endOfData(atCap), "250 2.0.0 Ok: queued");
  EXPECT_EQ(atCap.removedHeaders.size(), 2u);

  auto over = run("max_forged_authentication_results = 2\n", 3);
  EXPECT_EQ(endOfData(over),
            "550 5.7.1 Message rejected: 3 Authentication-Results header fields claim this "
            "server's authserv-id mx.example.net (at most 2 are removed); it is forged");
  EXPECT_TRUE(over.removedHeaders.empty());
  EXPECT_NE(harness::formatText(over).find(
                "eoh engine: too_many_forged_authentication_results (3 fields claim authserv-id "
                "mx.example.net, at most 2 removed) -> reject"),
            std::string::npos)
      << harness::formatText(over);
}

TEST(ForgedFields, DefaultCapSoftBounceAndOne) {
  EXPECT_EQ(endOfData(run("", 20)), "250 2.0.0 Ok: queued");
  EXPECT_EQ(endOfData(run("soft_bounce = yes\n", 21)),
            "450 4.7.1 Message rejected: 21 Authentication-Results header fields claim this "
            "server's authserv-id mx.example.net (at most 20 are removed); it is forged");
  EXPECT_EQ(endOfData(run("max_forged_authentication_results = 1\n", 2)),
            "550 5.7.1 Message rejected: 2 Authentication-Results header fields claim this "
            "server's authserv-id mx.example.net (at most 1 is removed); it is forged");
  // 0: any forgery refuses the message, none is removed.
  EXPECT_EQ(endOfData(run("max_forged_authentication_results = 0\n", 1)).substr(0, 30),
            "550 5.7.1 Message rejected: 1 ");
}

TEST(ForgedFields, TheCapIsBoundedAtLoad) {
  EXPECT_THROW(run("max_forged_authentication_results = 101\n", 0), config::ConfigError);
  EXPECT_THROW(run("max_forged_authentication_results = -1\n", 0), config::ConfigError);
}

}  // namespace
}  // namespace mxguard::testing
