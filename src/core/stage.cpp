// stage.cpp - the per-transaction DNS answer cache that lets the Session prefetch a phase's
// queries in one batch while each stage keeps simple "look this up" code; it also charges the
// message's DNS budget for the time spent waiting.
// Must not: cache across transactions (answers are per client; the resolver has its own cache).
#include "core/stage.h"

namespace mxguard {

std::vector<dns::LookupResult> cachedLookupAll(Transaction& tx, dns::Resolver& resolver,
                                               const std::vector<dns::Query>& qs,
                                               std::chrono::milliseconds timeout) {
  std::vector<dns::Query> misses;
  for (const auto& q : qs)
    if (!tx.dnsAnswers.count({q.name, q.type})) misses.push_back(q);
  auto allowed = tx.dnsBudget.allow(timeout);
  if (!misses.empty() && allowed.count() > 0) {
    auto started = DnsBudget::Clock::now();
    auto results = resolver.lookupAll(misses, allowed);
    tx.dnsBudget.charge(DnsBudget::Clock::now() - started);
    for (size_t i = 0; i < misses.size() && i < results.size(); ++i)
      tx.dnsAnswers[{misses[i].name, misses[i].type}] = results[i];
  }
  std::vector<dns::LookupResult> out;
  out.reserve(qs.size());
  for (const auto& q : qs) {
    auto it = tx.dnsAnswers.find({q.name, q.type});
    if (it != tx.dnsAnswers.end()) {
      out.push_back(it->second);
    } else {
      // Budget spent: not remembered, so the next message on this connection asks again.
      dns::LookupResult r;
      r.error = allowed.count() > 0 ? "resolver returned no result" : tx.dnsBudget.spentError();
      out.push_back(r);
    }
  }
  return out;
}

dns::LookupResult cachedLookup(Transaction& tx, dns::Resolver& resolver, const dns::Query& q,
                               std::chrono::milliseconds timeout) {
  return cachedLookupAll(tx, resolver, {q}, timeout).front();
}

}  // namespace mxguard
