// dns_answers.h - the DNS answers one connection has seen, each kept for its scope: answers of
// the connect and HELO phases for the connection, answers of a message's phases for that
// message; none past its TTL, and a temporary or permanent failure only for the lookup round
// (one phase) that saw it, so one SERVFAIL cannot poison later messages of the connection.
// Must not: be shared between connections, or outlive its TTL (the resolver has its own cache).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "core/resolver.h"

namespace mxguard {

class DnsAnswers {
 public:
  enum class Scope { Connection, Message };
  using TimePoint = std::chrono::steady_clock::time_point;

  // The phase's lookup round starts: what it learns is kept for `scope`.
  void beginRound(Scope scope) {
    scope_ = scope;
    ++round_;
  }
  // The round ends: its failures (and answers without a TTL) are forgotten.
  void endRound();
  // The message ends (RSET, end of message, next MAIL): its answers are forgotten.
  void endMessage();

  const dns::LookupResult* find(std::string_view name, dns::RrType type, TimePoint now) const;
  void remember(std::string name, dns::RrType type, dns::LookupResult result, TimePoint now);

  size_t size() const { return answers_.size(); }

  // At most this many answers are kept (a client repeating HELO with new names must not grow a
  // connection without bound); when full, the earlier rounds' answers go first.
  static constexpr size_t kMaxKept = 1000;

 private:
  // Ordered by (name, type); found by a string_view name too, so a lookup copies no name.
  struct Order {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      std::string_view an = a.first, bn = b.first;
      return an < bn || (an == bn && a.second < b.second);
    }
  };
  struct Entry {
    dns::LookupResult result;
    Scope scope;
    bool roundOnly;  // a failure, or no TTL: kept for this round only
    TimePoint expires;
    uint64_t round;  // the lookup round that learnt it
  };
  std::map<std::pair<std::string, dns::RrType>, Entry, Order> answers_;
  Scope scope_ = Scope::Connection;
  uint64_t round_ = 0;
};

}  // namespace mxguard
