// helo_stage.h - the HELO/EHLO name: present, valid RFC 5321 syntax (naming the bad character),
// not a bare IP, fully qualified, an address literal that matches the client, not our own name,
// optionally resolvable and equal to the client's verified reverse name.
// Must not: reply 5xx because DNS failed: a lookup failure is a dependency failure (4xx).
#pragma once

#include <vector>

#include "config/config_file.h"
#include "core/stage.h"
#include "stages/check_action.h"
#include "stages/registry.h"

namespace mxguard::stages {

class HeloStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "helo"; }
  std::vector<dns::Query> prefetch(Phase phase, const Connection& tx) const override;
  Findings onHelo(Connection& tx) const override;
  Findings onMail(Connection& tx) const override;

 private:
  TemplateVars varsFor(const Connection& tx, const std::string& problem) const;
  // Reports `check` as failed into `out` (under its mode: nothing when it is off).
  void fail(const Connection& tx, const Check& check, const std::string& problem,
            const std::string& detail, Findings& out) const;

  // One function per check, each reporting into `out`; onHelo says which run, and when they stop.
  void checkLiteral(Connection& tx, Findings& out) const;  // "[192.0.2.1]", "[IPv6:...]"
  void checkLiteralIsClient(Connection& tx, const IpAddress& literal, Findings& out) const;
  void checkLiteralNotOurs(Connection& tx, const IpAddress& literal, Findings& out) const;
  void checkBareIp(Connection& tx, const IpAddress& ip, Findings& out) const;
  // A well-formed host name (`name` in canonical form): the four checks below, in order.
  void checkHostName(Connection& tx, const std::string& name, Findings& out) const;
  void checkFullyQualified(Connection& tx, const std::string& name, Findings& out) const;
  void checkNotOurName(Connection& tx, const std::string& name, Findings& out) const;
  void checkResolvable(Connection& tx, const std::string& name, Findings& out) const;
  void checkReverseName(Connection& tx, const std::string& name, Findings& out) const;

  dns::ResolverSharedPtr resolver_;
  std::chrono::milliseconds timeout_{5000};
  std::string ourHostname_;
  Check missing_, invalid_, bareIp_, nonFqdn_, literalMismatch_, forged_, unresolvable_,
      reverseMismatch_;
  ReplyTemplate unresolvableTempfail_, reverseTempfail_;
};

}  // namespace mxguard::stages
