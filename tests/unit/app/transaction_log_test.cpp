// transaction_log_test.cpp - the record file both ways: a record with its DMARC facts comes back
// as it was written, one without stays without, and a broken "dmarc" object costs its line only.
// Must not: write outside the test's temporary directory.
#include "app/transaction_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

namespace mxguard::app {
namespace {

MessageRecord baseRecord() {
  MessageRecord r;
  r.time = "2026-12-06T21:50:00Z";
  r.queueId = "4XyZ1";
  r.clientAddress = "192.0.2.7";
  r.clientName = "mail.example.org";
  r.helo = "mail.example.org";
  r.heloSeen = true;
  r.sender = "bounce@example.org";
  r.recipients = {"user@example.net"};
  r.action = "accept";
  return r;
}

DmarcFacts fullFacts() {
  DmarcFacts d;
  d.headerFrom = "example.org";
  d.envelopeFrom = "bounce.example.org";
  d.result = "fail";
  d.policyDomain = "example.org";
  d.adkim = "s";
  d.aspf = "r";
  d.p = "reject";
  d.sp = "quarantine";
  d.pct = 50;
  d.fo = "1";
  d.disposition = "none";
  d.dkimAligned = "fail";
  d.spfAligned = "pass";
  d.overrides = {{"sampled_out", "pct=50"}, {"local_policy", ""}};
  d.dkim = {{"example.org", "s1", "fail"}, {"esp.example", "k2", "pass"}};
  d.spf = {{"bounce.example.org", "mfrom", "pass"}};
  return d;
}

// The records forEachTransaction reads from `lines` (one per line), and its error messages.
struct ReadBack {
  std::vector<MessageRecord> records;
  std::vector<std::string> errors;
};

ReadBack readLines(const std::vector<std::string>& lines) {
  auto path = std::filesystem::path(::testing::TempDir()) / "transaction_log_test.jsonl";
  {
    std::ofstream out(path, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }
  ReadBack back;
  forEachTransaction(
      path.string(), [&](const MessageRecord& r) { back.records.push_back(r); },
      [&](const std::string& e) { back.errors.push_back(e); });
  std::filesystem::remove(path);
  return back;
}

TEST(TransactionLog, DmarcFactsRoundTrip) {
  MessageRecord r = baseRecord();
  r.dmarc = fullFacts();
  ReadBack back = readLines({toJsonLine(r)});
  ASSERT_TRUE(back.errors.empty()) << back.errors[0];
  ASSERT_EQ(back.records.size(), 1u);
  ASSERT_TRUE(back.records[0].dmarc.has_value());
  const DmarcFacts& d = *back.records[0].dmarc;
  const DmarcFacts want = fullFacts();
  EXPECT_EQ(d.headerFrom, want.headerFrom);
  EXPECT_EQ(d.envelopeFrom, want.envelopeFrom);
  EXPECT_EQ(d.result, want.result);
  EXPECT_EQ(d.policyDomain, want.policyDomain);
  EXPECT_EQ(d.adkim, "s");
  EXPECT_EQ(d.aspf, "r");
  EXPECT_EQ(d.p, "reject");
  EXPECT_EQ(d.sp, "quarantine");
  EXPECT_EQ(d.pct, 50);
  EXPECT_EQ(d.fo, "1");
  EXPECT_EQ(d.disposition, "none");
  EXPECT_EQ(d.dkimAligned, "fail");
  EXPECT_EQ(d.spfAligned, "pass");
  ASSERT_EQ(d.overrides.size(), 2u);
  EXPECT_EQ(d.overrides[0].type, "sampled_out");
  EXPECT_EQ(d.overrides[0].comment, "pct=50");
  EXPECT_EQ(d.overrides[1].type, "local_policy");
  ASSERT_EQ(d.dkim.size(), 2u);
  EXPECT_EQ(d.dkim[1].domain, "esp.example");
  EXPECT_EQ(d.dkim[1].selector, "k2");
  EXPECT_EQ(d.dkim[1].result, "pass");
  ASSERT_EQ(d.spf.size(), 1u);
  EXPECT_EQ(d.spf[0].domain, "bounce.example.org");
  EXPECT_EQ(d.spf[0].scope, "mfrom");
  EXPECT_EQ(d.spf[0].result, "pass");
  // The rest of the record is untouched by the new field.
  EXPECT_EQ(back.records[0].clientAddress, "192.0.2.7");
  EXPECT_EQ(back.records[0].time, "2026-12-06T21:50:00Z");
}

TEST(TransactionLog, DmarcWrittenInSnakeCase) {
  MessageRecord r = baseRecord();
  r.dmarc = fullFacts();
  std::string line = toJsonLine(r);
  for (const char* key : {"\"dmarc\":{", "\"header_from\":\"example.org\"",
                          "\"policy_published\":{", "\"dkim_aligned\":\"fail\"", "\"pct\":50",
                          "\"scope\":\"mfrom\"", "\"type\":\"sampled_out\""})
    EXPECT_NE(line.find(key), std::string::npos) << key << " in " << line;
}

TEST(TransactionLog, RecordWithoutDmarcStaysWithout) {
  MessageRecord r = baseRecord();
  std::string line = toJsonLine(r);
  EXPECT_EQ(line.find("dmarc"), std::string::npos) << line;
  ReadBack back = readLines({line});
  ASSERT_EQ(back.records.size(), 1u);
  EXPECT_FALSE(back.records[0].dmarc.has_value());
}

TEST(TransactionLog, MalformedDmarcCostsItsLineOnly) {
  MessageRecord r = baseRecord();
  r.dmarc = fullFacts();
  std::string good = toJsonLine(r);
  // Cut the object's closing brace back to "dmarc": and replace it with something broken.
  std::string head = good.substr(0, good.find("\"dmarc\":") + 8);
  std::string rest = good.substr(good.find(",\"helo\""));  // keys are sorted: helo follows dmarc
  std::vector<std::string> broken = {
      head + "\"fail\"" + rest,                           // not an object
      head + "{\"header_from\":\"example.org\"}" + rest,  // keys missing
      head + "{\"header_from\":7}" + rest,                // wrong type
  };
  std::string wrongPct = good;
  wrongPct.replace(wrongPct.find("\"pct\":50"), 8, "\"pct\":\"50\"");
  broken.push_back(wrongPct);
  std::vector<std::string> lines = broken;
  lines.push_back(good);
  ReadBack back = readLines(lines);
  ASSERT_EQ(back.records.size(), 1u);
  EXPECT_TRUE(back.records[0].dmarc.has_value());
  ASSERT_EQ(back.errors.size(), broken.size());
  for (size_t i = 0; i < broken.size(); ++i) {
    EXPECT_NE(back.errors[i].find(":" + std::to_string(i + 1) + ": not a transaction record"),
              std::string::npos)
        << back.errors[i];
  }
}

TEST(TransactionLog, NullDmarcReadsAsAbsent) {
  std::string line = toJsonLine(baseRecord());
  line.insert(line.size() - 1, ",\"dmarc\":null");
  ReadBack back = readLines({line});
  ASSERT_EQ(back.records.size(), 1u);
  EXPECT_FALSE(back.records[0].dmarc.has_value());
}

}  // namespace
}  // namespace mxguard::app
