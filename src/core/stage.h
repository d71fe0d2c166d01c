// stage.h - the interface every check implements: one hook per SMTP phase it cares about.
// Must not: keep per-connection state in the stage object (stages are shared by all threads and
// immutable after load; use Connection::messageState/connectionState).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/phase.h"
#include "core/connection.h"
#include "core/decision.h"
#include "core/resolver.h"

namespace mxguard {

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;

  // DNS queries this stage will need in `phase`. The Engine issues every stage's queries of a
  // phase together under one deadline and stores the answers in tx.dnsAnswers before the hooks run.
  virtual std::vector<dns::Query> prefetch(Phase, const Connection&) const { return {}; }

  virtual Findings onConnect(Connection&) const { return {}; }
  virtual Findings onHelo(Connection&) const { return {}; }
  virtual Findings onMail(Connection&) const { return {}; }
  virtual Findings onRcpt(Connection&, const std::string&) const { return {}; }
  virtual Findings onHeader(Connection&, const Header&) const { return {}; }
  virtual Findings onEoh(Connection&) const { return {}; }
  virtual Findings onBody(Connection&, std::string_view) const { return {}; }
  virtual Findings onEom(Connection&) const { return {}; }
  virtual void onAbort(Connection&) const {}
  virtual void onClose(Connection&) const {}
};

using StageSharedPtr = std::shared_ptr<const Stage>;

// Reads a prefetched answer from tx.dnsAnswers, or resolves it now (and remembers it).
dns::LookupResult cachedLookup(Connection& tx, dns::Resolver& resolver, const dns::Query& q,
                               std::chrono::milliseconds timeout);
// Same for several queries at once: the misses go out together under one deadline.
std::vector<dns::LookupResult> cachedLookupAll(Connection& tx, dns::Resolver& resolver,
                                               const std::vector<dns::Query>& qs,
                                               std::chrono::milliseconds timeout);

}  // namespace mxguard
