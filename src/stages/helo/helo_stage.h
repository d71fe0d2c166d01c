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
  std::vector<dns::Query> prefetch(Phase phase, const Transaction& tx) const override;
  Findings onHelo(Transaction& tx) const override;
  Findings onMail(Transaction& tx) const override;

 private:
  TemplateVars varsFor(const Transaction& tx, const std::string& problem) const;
  // Reports `check` as failed into `out` (under its mode: nothing when it is off).
  void fail(const Transaction& tx, const Check& check, const std::string& problem,
            const std::string& detail, Findings& out) const;

  // One function per check, each reporting into `out`; onHelo says which run, and when they stop.
  void checkLiteral(Transaction& tx, Findings& out) const;  // "[192.0.2.1]", "[IPv6:...]"
  void checkLiteralIsClient(Transaction& tx, const IpAddress& literal, Findings& out) const;
  void checkLiteralNotOurs(Transaction& tx, const IpAddress& literal, Findings& out) const;
  void checkBareIp(Transaction& tx, const IpAddress& ip, Findings& out) const;
  // A well-formed host name (`name` in canonical form): the four checks below, in order.
  void checkHostName(Transaction& tx, const std::string& name, Findings& out) const;
  void checkFullyQualified(Transaction& tx, const std::string& name, Findings& out) const;
  void checkNotOurName(Transaction& tx, const std::string& name, Findings& out) const;
  void checkResolvable(Transaction& tx, const std::string& name, Findings& out) const;
  void checkReverseName(Transaction& tx, const std::string& name, Findings& out) const;

  dns::ResolverSharedPtr resolver_;
  std::chrono::milliseconds timeout_{5000};
  std::string ourHostname_;
  Check missing_, invalid_, bareIp_, nonFqdn_, literalMismatch_, forged_, unresolvable_,
      reverseMismatch_;
  ReplyTemplate unresolvableTempfail_, reverseTempfail_;
};

}  // namespace mxguard::stages
