// dns_answers_test.cpp - a connection's DNS answers: kept for their scope and TTL, failures for
// their round only, and never more than kMaxKept however many names a client makes us ask.
#include "core/dns_answers.h"

#include <gtest/gtest.h>

namespace mxguard {
namespace {

using Clock = std::chrono::steady_clock;
const dns::LookupResult kOk{dns::LookupStatus::Ok, {"192.0.2.1"}, 300, ""};
const dns::LookupResult kServfail{dns::LookupStatus::TempFail, {}, 0, "SERVFAIL"};

TEST(DnsAnswers, FailuresLastOneRoundAnswersTheirScopeAndTtl) {
  DnsAnswers a;
  Clock::time_point now{};
  a.beginRound(DnsAnswers::Scope::Connection);
  a.remember("conn.example", dns::RrType::A, kOk, now);
  a.remember("fail.example", dns::RrType::A, kServfail, now);
  ASSERT_NE(a.find("fail.example", dns::RrType::A, now), nullptr);  // read by this round's hooks
  a.endRound();
  EXPECT_EQ(a.find("fail.example", dns::RrType::A, now), nullptr);
  a.beginRound(DnsAnswers::Scope::Message);
  a.remember("msg.example", dns::RrType::A, kOk, now);
  a.endRound();
  a.endMessage();
  EXPECT_EQ(a.find("msg.example", dns::RrType::A, now), nullptr);
  ASSERT_NE(a.find("conn.example", dns::RrType::A, now), nullptr);
  EXPECT_EQ(a.find("conn.example", dns::RrType::A, now + std::chrono::seconds(300)), nullptr);
}

// A client sending HELO after HELO with new names: each round's answers are asked for again later
// if needed, but the connection keeps at most kMaxKept, and the current round's stay readable.
TEST(DnsAnswers, AFloodOfNamesIsBounded) {
  DnsAnswers a;
  Clock::time_point now{};
  for (size_t helo = 0; helo < 3 * DnsAnswers::kMaxKept; ++helo) {
    a.beginRound(DnsAnswers::Scope::Connection);
    std::string name = "h" + std::to_string(helo) + ".example";
    a.remember(name, dns::RrType::A, kOk, now);
    a.remember(name, dns::RrType::AAAA, kOk, now);
    ASSERT_NE(a.find(name, dns::RrType::A, now), nullptr);
    ASSERT_NE(a.find(name, dns::RrType::AAAA, now), nullptr);
    a.endRound();
    ASSERT_LE(a.size(), DnsAnswers::kMaxKept + 1);
  }
}

}  // namespace
}  // namespace mxguard
