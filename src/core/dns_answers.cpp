// dns_answers.cpp - scoped, TTL-bounded answers of one connection.
// Must not: keep a failure past its round.
#include "core/dns_answers.h"

#include <algorithm>

namespace mxguard {

void DnsAnswers::endRound() {
  std::erase_if(answers_, [](const auto& a) { return a.second.roundOnly; });
}

void DnsAnswers::endMessage() {
  std::erase_if(answers_, [](const auto& a) { return a.second.scope == Scope::Message; });
}

const dns::LookupResult* DnsAnswers::find(std::string_view name, dns::RrType type,
                                          TimePoint now) const {
  auto it = answers_.find(std::pair<std::string_view, dns::RrType>{name, type});
  if (it == answers_.end()) return nullptr;
  if (!it->second.roundOnly && now >= it->second.expires) return nullptr;
  return &it->second.result;
}

void DnsAnswers::remember(std::string name, dns::RrType type, dns::LookupResult result,
                          TimePoint now) {
  bool definite = result.status == dns::LookupStatus::Ok ||
                  result.status == dns::LookupStatus::NotFound ||
                  result.status == dns::LookupStatus::NoData;
  bool roundOnly = !definite || result.ttl == 0;
  auto expires = now + std::chrono::seconds(result.ttl);
  // The current round's answers stay: the phase's hooks read them after the prefetch.
  if (answers_.size() >= kMaxKept)
    std::erase_if(answers_, [this](const auto& a) { return a.second.round != round_; });
  answers_.insert_or_assign({std::move(name), type},
                            Entry{std::move(result), scope_, roundOnly, expires, round_});
}

}  // namespace mxguard
