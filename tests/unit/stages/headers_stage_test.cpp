// headers_stage_test.cpp - RFC 5322 header checks: real client messages pass, each malformation
// gets its exact reply, hostile input (10,000 fields, 1 MB line, NUL) stays bounded.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "stage_test_support.h"
#include "stages/headers/rfc5322_syntax.h"

namespace mxguard::testing {
namespace {

// Every check rejecting, so that any finding shows.
const std::string kStrict =
    "missing_date = reject\nmissing_from = reject\nduplicate = reject\ndate_syntax = reject\n"
    "date_range = off\nmessage_id_syntax = reject\nfield_name = reject\nline_length = reject\n"
    "eight_bit = reject\nnul = reject\nfrom_syntax = reject\n";

std::vector<Header> parseHeaders(const std::string& raw) {
  std::vector<Header> out;
  std::istringstream in(raw);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !out.empty()) {
      out.back().value += "\n" + line;
      continue;
    }
    auto colon = line.find(':');
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    out.push_back({line.substr(0, colon), value});
  }
  return out;
}

Findings run(const std::vector<Header>& headers, const std::string& config = kStrict,
             bool smtputf8 = false) {
  auto stage = buildStage("headers", config, std::make_shared<FakeResolver>());
  auto tx = clientTx("192.0.2.10");
  tx.message.smtputf8 = smtputf8;
  for (const auto& h : headers) {
    ++tx.message.headerCount;
    stage->onHeader(tx, h);
  }
  return stage->onEoh(tx);
}

std::vector<Header> base() {
  return {{"Date", "Sat, 21 Nov 2026 18:04:12 +0100"},
          {"From", "Alice <alice@example.org>"},
          {"To", "bob@example.net"},
          {"Message-ID", "<abc@example.org>"},
          {"Subject", "hello"}};
}

std::string replyOf(const Findings& d) {
  return d && d->reply ? d->reply->toSmtp() : "no reply: " + (d ? d->reason : std::string("none"));
}

TEST(HeadersStage, MessagesOfMainstreamClientsPass) {
  for (const char* name :
       {"thunderbird", "outlook", "gmail", "applemail", "mailinglist", "bounce", "obsolete_date"}) {
    std::ifstream in(std::string(MXGUARD_SOURCE_DIR) + "/tests/fixtures/messages/" + name + ".eml");
    ASSERT_TRUE(in) << name;
    std::stringstream raw;
    raw << in.rdbuf();
    auto d = run(parseHeaders(raw.str()));
    ASSERT_TRUE(d) << name;
    EXPECT_EQ(d->action, Action::Pass) << name << ": " << replyOf(d);
    EXPECT_EQ(d->reason, "headers.ok") << name << ": " << d->detail;
  }
}

TEST(HeadersStage, MissingAndDuplicateFields) {
  auto h = base();
  h.erase(h.begin());
  EXPECT_EQ(replyOf(run(h)),
            "550 5.6.0 Message rejected: Date header field is missing (RFC 5322 section 3.6)\r\n");
  h = base();
  h.erase(h.begin() + 1);
  EXPECT_EQ(replyOf(run(h)),
            "550 5.6.0 Message rejected: From header field is missing (RFC 5322 section 3.6)\r\n");
  h = base();
  h.push_back({"subject", "again"});
  EXPECT_EQ(replyOf(run(h)),
            "550 5.6.0 Message rejected: more than one Subject header field (RFC 5322 section "
            "3.6)\r\n");
  h = base();
  h.push_back({"MESSAGE-ID", "<x@y>"});
  EXPECT_EQ(replyOf(run(h)),
            "550 5.6.0 Message rejected: more than one Message-ID header field (RFC 5322 section "
            "3.6)\r\n");
}

TEST(HeadersStage, DateSyntax) {
  auto withDate = [](const std::string& date) {
    auto h = base();
    h[0].value = date;
    return replyOf(run(h));
  };
  EXPECT_EQ(withDate("yesterday"),
            "550 5.6.0 Message rejected: Date header field is not a valid date (unknown day name "
            "'yesterday'): \"yesterday\" (RFC 5322 section 3.3)\r\n");
  EXPECT_EQ(
      withDate("Sat, 31 Feb 2026 10:00:00 +0000"),
      "550 5.6.0 Message rejected: Date header field is not a valid date (date or time out of "
      "range): \"Sat, 31 Feb 2026 10:00:00 +0000\" (RFC 5322 section 3.3)\r\n");
  EXPECT_EQ(withDate("Sat, 21 Nov 2026 10:00:00 +0000 extra"),
            "550 5.6.0 Message rejected: Date header field is not a valid date (unexpected 'extra' "
            "after the time zone): \"Sat, 21 Nov 2026 10:00:00 +0000 extra\" (RFC 5322 section "
            "3.3)\r\n");
}

TEST(HeadersStage, ObsoleteDateFormsParse) {
  std::string problem;
  // Section 4.3: two-digit years, named zones, military zones, comments, extra spaces.
  EXPECT_EQ(*stages::parseRfc5322Date("21 Nov 26 07:42 EST", &problem),
            *stages::parseRfc5322Date("21 Nov 2026 12:42:00 +0000", &problem));
  EXPECT_EQ(
      *stages::parseRfc5322Date("Sat , 21 Nov 1999 10 : 00 : 00 GMT (comment (nested))", &problem),
      *stages::parseRfc5322Date("21 Nov 1999 10:00:00 +0000", &problem));
  EXPECT_TRUE(stages::parseRfc5322Date("Mon, 1 Jan 2001 00:00:00 A", &problem));
  EXPECT_TRUE(stages::parseRfc5322Date("1 Jan 101 00:00 PDT", &problem));  // three-digit year: 2001
  EXPECT_FALSE(stages::parseRfc5322Date("1 Jan 2001 00:00:00 +9960", &problem));
  EXPECT_FALSE(stages::parseRfc5322Date("1 Jan 2001 24:00:00 +0000", &problem));
  EXPECT_FALSE(stages::parseRfc5322Date("1 Jan 2001 00:00:00 (unterminated", &problem));
  EXPECT_EQ(problem, "unterminated comment");
  std::string deep(100, '(');
  EXPECT_FALSE(stages::parseRfc5322Date("1 Jan 2001 00:00:00 +0000 " + deep, &problem));
  EXPECT_EQ(problem, "comments nested too deeply");
}

TEST(HeadersStage, DateRange) {
  std::string rangeRejects = kStrict;
  rangeRejects.replace(rangeRejects.find("date_range = off"), 16, "date_range = reject");
  auto h = base();
  h[0].value = "Mon, 1 Jan 2001 00:00:00 +0000";
  auto d = run(h, rangeRejects);
  EXPECT_EQ(replyOf(d),
            "550 5.6.0 Message rejected: Date header field is more than 365 days in the past: "
            "\"Mon, 1 Jan 2001 00:00:00 +0000\" (RFC 5322 section 3.6.1)\r\n");
  h[0].value = "Fri, 1 Jan 2100 00:00:00 +0000";
  EXPECT_EQ(replyOf(run(h, rangeRejects)),
            "550 5.6.0 Message rejected: Date header field is more than 48 hours in the future: "
            "\"Fri, 1 Jan 2100 00:00:00 +0000\" (RFC 5322 section 3.6.1)\r\n");
  // The shipped default only warns.
  auto w = run(h, "");
  EXPECT_EQ(w->mode, CheckMode::Warn);
  EXPECT_EQ(w->reason, "headers.date_range");
}

TEST(HeadersStage, MessageIdForm) {
  auto h = base();
  h[3].value = "abc@example.org";
  EXPECT_EQ(
      replyOf(run(h)),
      "550 5.6.0 Message rejected: Message-ID header field is not of the form <id@domain> (not "
      "enclosed in <>): \"abc@example.org\" (RFC 5322 section 3.6.4)\r\n");
  h[3].value = "<no-at-sign>";
  EXPECT_NE(replyOf(run(h)).find("(no '@' between two parts)"), std::string::npos);
}

TEST(HeadersStage, FieldNameLineLengthEightBitNul) {
  auto h = base();
  h.push_back({"X Bad Name", "v"});
  EXPECT_EQ(replyOf(run(h)),
            "550 5.6.0 Message rejected: invalid header field name \"X Bad Name\" (RFC 5322 "
            "section 2.2)\r\n");
  h = base();
  h.push_back({"X-Long", std::string(1 << 20, 'a')});
  EXPECT_EQ(replyOf(run(h)),
            "550 5.6.0 Message rejected: a line of the X-Long header field is longer than 998 "
            "characters (RFC 5322 section 2.1.1)\r\n");
  h = base();
  h.push_back({"X-Folded", std::string(900, 'a') + "\n " + std::string(900, 'b')});
  EXPECT_EQ(run(h)->action, Action::Pass) << "folded lines are measured one by one";
  h = base();
  h[4].value = "caf\xc3\xa9";
  EXPECT_EQ(replyOf(run(h)),
            "550 5.6.0 Message rejected: 8-bit characters in the Subject header field without "
            "SMTPUTF8 (RFC 5322 section 2.2, RFC 6532)\r\n");
  EXPECT_EQ(run(h, kStrict, true)->action, Action::Pass) << "SMTPUTF8 allows UTF-8 headers";
  h = base();
  h[4].value = std::string("a\0b", 3);
  EXPECT_EQ(replyOf(run(h)),
            "550 5.6.0 Message rejected: NUL character in the Subject header field (RFC 5322 "
            "section 2.2)\r\n");
}

TEST(HeadersStage, FromSyntax) {
  auto withFrom = [](const std::string& from) {
    auto h = base();
    h[1].value = from;
    return run(h);
  };
  for (const char* ok :
       {"alice@example.org", "Alice <alice@example.org>", "\"Doe, John\" <john@example.org>",
        "a@example.org, b@example.org", "=?UTF-8?B?w4FubmE=?= <anna@example.org>",
        "x@example.org (comment)", "\"quoted local\"@example.org", "user@[192.0.2.1]"})
    EXPECT_EQ(withFrom(ok)->action, Action::Pass) << ok;
  EXPECT_EQ(replyOf(withFrom("Alice <alice at example.org>")),
            "550 5.6.0 Message rejected: From header field is not a valid address list (invalid "
            "address 'alice at example.org'): \"Alice <alice at example.org>\" (RFC 5322 section "
            "3.6.2)\r\n");
  EXPECT_NE(replyOf(withFrom("undisclosed-recipients:;")).find("invalid address"),
            std::string::npos);
  EXPECT_NE(replyOf(withFrom("Alice <alice@example.org")).find("unbalanced <>"), std::string::npos);
  EXPECT_NE(replyOf(withFrom("")).find("(no address)"), std::string::npos);
}

TEST(HeadersStage, TenThousandFieldsStayBounded) {
  auto h = base();
  for (int i = 0; i < 10000; ++i) h.push_back({"X-Filler-" + std::to_string(i), "v"});
  auto d = run(h);
  EXPECT_EQ(d->action, Action::Pass);
  EXPECT_EQ(d->detail, "10005 fields");
}

}  // namespace
}  // namespace mxguard::testing
