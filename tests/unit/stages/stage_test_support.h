// stage_test_support.h - builds one stage from a policy snippet with a FakeResolver, the way the
// policy loader does, and a Transaction for a client.
#pragma once

#include <memory>
#include <string>

#include "config/config_file.h"
#include "core/transaction.h"
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

inline Transaction clientTx(const std::string& ip, const std::string& helo = "") {
  Transaction tx;
  tx.connection.clientIp = IpAddress::parse(ip);
  tx.connection.clientAddress = tx.connection.clientIp ? tx.connection.clientIp->toString() : ip;
  tx.connection.helo = helo;
  tx.connection.heloSeen = true;
  tx.connection.ourHostname = "mx.example.net";
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
