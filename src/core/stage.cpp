// stage.cpp - the connection's DNS answers (DnsAnswers) that let the Engine prefetch a phase's
// queries in one batch while each stage keeps simple "look this up" code; it also charges the
// message's DNS budget for the time spent waiting.
// Must not: keep an answer past its scope (answers are per client; the resolver has its own cache).
#include "core/stage.h"

namespace mxguard {

namespace {

// Asks the resolver for the queries tx.dnsAnswers lacks, within the DNS budget, and remembers
// the answers. Returns whether any time was left to ask in.
bool resolveMissing(Connection& tx, dns::Resolver& resolver, const dns::Query* qs, size_t n,
                    std::chrono::milliseconds timeout) {
  std::vector<dns::Query> misses;
  for (size_t i = 0; i < n; ++i)
    if (!tx.dnsAnswers.find(qs[i].name, qs[i].type, tx.clock().now())) misses.push_back(qs[i]);
  auto allowed = tx.dnsBudget.allow(timeout);
  if (!misses.empty() && allowed.count() > 0) {
    auto started = tx.clock().now();
    auto results = resolver.lookupAll(misses, allowed);
    auto now = tx.clock().now();
    tx.dnsBudget.charge(now - started);
    for (size_t i = 0; i < misses.size() && i < results.size(); ++i)
      tx.dnsAnswers.remember(std::move(misses[i].name), misses[i].type, std::move(results[i]), now);
  }
  return allowed.count() > 0;
}

dns::LookupResult answerFor(const Connection& tx, const dns::Query& q, bool hadTime) {
  if (const auto* answer = tx.dnsAnswers.find(q.name, q.type, tx.clock().now())) return *answer;
  // Budget spent: not remembered, so the next message on this connection asks again.
  dns::LookupResult r;
  r.error = hadTime ? "resolver returned no result" : tx.dnsBudget.spentError();
  return r;
}

}  // namespace

std::vector<dns::LookupResult> cachedLookupAll(Connection& tx, dns::Resolver& resolver,
                                               const std::vector<dns::Query>& qs,
                                               std::chrono::milliseconds timeout) {
  bool hadTime = resolveMissing(tx, resolver, qs.data(), qs.size(), timeout);
  std::vector<dns::LookupResult> out;
  out.reserve(qs.size());
  for (const auto& q : qs) out.push_back(answerFor(tx, q, hadTime));
  return out;
}

dns::LookupResult cachedLookup(Connection& tx, dns::Resolver& resolver, const dns::Query& q,
                               std::chrono::milliseconds timeout) {
  bool hadTime = resolveMissing(tx, resolver, &q, 1, timeout);
  return answerFor(tx, q, hadTime);
}

}  // namespace mxguard
