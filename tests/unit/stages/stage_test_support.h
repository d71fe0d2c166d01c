// stage_test_support.h - builds one stage from a policy snippet with a FakeResolver, the way the
// policy loader does, and a Connection for a client.
#pragma once

#include <memory>
#include <string>

#include "config/config_file.h"
#include "core/connection.h"
#include "fakes/fake_resolver.h"
#include "stages/registry.h"

namespace mxguard::testing {

inline StageSharedPtr buildStage(const std::string& name, const std::string& sectionText,
                                 std::shared_ptr<FakeResolver> resolver,
                                 const std::string& ourHostname = "mx.example.net") {
  auto file = config::ConfigFile::parse("[" + name + "]\n" + sectionText, "test.conf");
  const auto* factory = stages::findStage(name);
  stages::StageContext ctx;
  ctx.resolver = std::move(resolver);
  ctx.ourHostname = ourHostname;
  return factory->create(file.section(name, factory->options()), ctx);
}

inline Connection clientTx(const std::string& ip, const std::string& helo = "") {
  Connection tx;
  tx.client.clientIp = IpAddress::parse(ip);
  tx.client.clientAddress = tx.client.clientIp ? tx.client.clientIp->toString() : ip;
  tx.client.helo = helo;
  tx.client.heloSeen = true;
  tx.client.ourHostname = "mx.example.net";
  return tx;
}

inline std::string configError(const std::string& name, const std::string& sectionText) {
  try {
    buildStage(name, sectionText, std::make_shared<FakeResolver>());
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace mxguard::testing
