// dmarc_report_test.cpp - aggregate reports from records: identical rows counted once, a report
// per policy domain, only pass/fail counted, hostile text escaped, the date range, sp's default,
// and one whole document byte for byte.
// Must not: depend on the clock (every record carries its own time).
#include "harness/dmarc_report.h"

#include <gtest/gtest.h>

#include <string>

namespace mxguard::harness {
namespace {

MessageRecord record(const std::string& time, const std::string& ip, const std::string& domain,
                     const std::string& result = "pass") {
  MessageRecord r;
  r.time = time;
  r.clientAddress = ip;
  r.sender = "bounce@" + domain;
  DmarcFacts d;
  d.headerFrom = domain;
  d.envelopeFrom = domain;
  d.result = result;
  d.policyDomain = domain;
  d.p = "reject";
  d.disposition = result == "fail" ? "reject" : "none";
  d.dkimAligned = result == "pass" ? "pass" : "fail";
  d.spfAligned = result == "pass" ? "pass" : "fail";
  d.dkim = {{domain, "s1", result == "pass" ? "pass" : "fail"}};
  d.spf = {{domain, "mfrom", result == "pass" ? "pass" : "fail"}};
  r.dmarc = d;
  return r;
}

DmarcReportOptions options() {
  DmarcReportOptions o;
  o.orgName = "Receiver";
  o.email = "dmarc@receiver.example";
  return o;
}

size_t occurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

TEST(DmarcReport, OneSmallReportExactly) {
  DmarcReportBuilder b(options());
  MessageRecord r = record("2026-12-06T21:50:00Z", "192.0.2.1", "example.org");
  r.dmarc->overrides = {{"local_policy", "allow-listed"}};
  EXPECT_EQ(b.add(r), DmarcRecordUse::Counted);
  EXPECT_EQ(b.add(r), DmarcRecordUse::Counted);
  auto reports = b.reports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].policyDomain, "example.org");
  EXPECT_EQ(reports[0].begin, 1796593800);
  EXPECT_EQ(reports[0].end, 1796593800);
  EXPECT_EQ(reports[0].xml, R"(<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>Receiver</org_name>
    <email>dmarc@receiver.example</email>
    <report_id>example.org-1796593800-1796593800</report_id>
    <date_range>
      <begin>1796593800</begin>
      <end>1796593800</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.org</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>reject</p>
    <sp>reject</sp>
    <pct>100</pct>
    <fo>0</fo>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.1</source_ip>
      <count>2</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>pass</spf>
        <reason>
          <type>local_policy</type>
          <comment>allow-listed</comment>
        </reason>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_from>example.org</envelope_from>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.org</domain>
        <selector>s1</selector>
        <result>pass</result>
      </dkim>
      <spf>
        <domain>example.org</domain>
        <scope>mfrom</scope>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
</feedback>
)");
  EXPECT_EQ(dmarcReportFileName("receiver.example", reports[0]),
            "receiver.example!example.org!1796593800!1796593800.xml");
}

TEST(DmarcReport, IdenticalRowsCountOnceDifferentRowsApart) {
  DmarcReportBuilder b(options());
  b.add(record("2026-12-06T10:00:00Z", "192.0.2.1", "example.org"));
  b.add(record("2026-12-06T11:00:00Z", "192.0.2.1", "example.org"));
  b.add(record("2026-12-06T12:00:00Z", "192.0.2.1", "example.org"));
  b.add(record("2026-12-06T13:00:00Z", "192.0.2.2", "example.org"));          // other IP
  b.add(record("2026-12-06T14:00:00Z", "192.0.2.1", "example.org", "fail"));  // other result
  MessageRecord reordered = record("2026-12-06T15:00:00Z", "192.0.2.1", "example.org");
  reordered.dmarc->dkim.push_back({"esp.example", "k", "pass"});
  MessageRecord same = reordered;
  std::swap(same.dmarc->dkim[0], same.dmarc->dkim[1]);  // the auth results are a set
  b.add(reordered);
  b.add(same);
  auto reports = b.reports();
  ASSERT_EQ(reports.size(), 1u);
  const std::string& x = reports[0].xml;
  EXPECT_EQ(occurrences(x, "<record>"), 4u) << x;
  EXPECT_EQ(occurrences(x, "<count>3</count>"), 1u) << x;
  EXPECT_EQ(occurrences(x, "<count>2</count>"), 1u) << x;
  EXPECT_EQ(occurrences(x, "<count>1</count>"), 2u) << x;
}

TEST(DmarcReport, TwoPolicyDomainsTwoReports) {
  DmarcReportBuilder b(options());
  b.add(record("2026-12-06T10:00:00Z", "192.0.2.1", "example.org"));
  b.add(record("2026-12-06T11:00:00Z", "192.0.2.9", "example.com", "fail"));
  auto reports = b.reports();
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].policyDomain, "example.com");  // domain order
  EXPECT_EQ(reports[1].policyDomain, "example.org");
  EXPECT_NE(reports[0].xml.find("<disposition>reject</disposition>"), std::string::npos);
  EXPECT_EQ(reports[0].xml.find("example.org"), std::string::npos);
  EXPECT_EQ(reports[1].xml.find("example.com"), std::string::npos);
}

TEST(DmarcReport, OnlyPassAndFailCount) {
  DmarcReportBuilder b(options());
  MessageRecord none = record("2026-12-06T10:00:00Z", "192.0.2.1", "example.org", "none");
  MessageRecord temp = record("2026-12-06T10:00:00Z", "192.0.2.1", "example.org", "temperror");
  MessageRecord perm = record("2026-12-06T10:00:00Z", "192.0.2.1", "example.org", "permerror");
  MessageRecord without = record("2026-12-06T10:00:00Z", "192.0.2.1", "example.org");
  without.dmarc.reset();
  for (const auto* r : {&none, &temp, &perm, &without})
    EXPECT_EQ(b.add(*r), DmarcRecordUse::NoPolicy);
  EXPECT_TRUE(b.reports().empty());
  EXPECT_EQ(b.add(record("2026-12-06T10:00:00Z", "192.0.2.1", "example.org", "fail")),
            DmarcRecordUse::Counted);
  EXPECT_EQ(b.reports().size(), 1u);
}

TEST(DmarcReport, HostileHeaderFromIsEscaped) {
  DmarcReportBuilder b(options());
  MessageRecord r = record("2026-12-06T10:00:00Z", "192.0.2.1", "example.org", "fail");
  // Markup, quotes, a NUL and other controls, a lone continuation byte, an overlong '<'
  // (C0 BC), a surrogate (ED A0 80), a C1 control (C2 85); the UTF-8 "é" stays.
  r.dmarc->headerFrom = std::string("ex<ample>&\"o'rg\x01\x1b\n\t") + std::string(1, '\0') +
                        "\x80\xC0\xBC\xED\xA0\x80\xC2\x85" + "caf\xC3\xA9" + "</header_from>";
  b.add(r);
  const std::string x = b.reports().at(0).xml;
  EXPECT_NE(x.find("<header_from>ex&lt;ample&gt;&amp;&quot;o&apos;rgcaf\xC3\xA9&lt;/header_from&gt;"
                   "</header_from>"),
            std::string::npos)
      << x;
  EXPECT_EQ(occurrences(x, "<header_from>"), 1u);
}

TEST(DmarcReport, XmlTextDropsWhatXmlCannotHold) {
  EXPECT_EQ(xmlText("a&b"), "a&amp;b");
  EXPECT_EQ(xmlText("\xF0\x9F\x93\xA7"), "\xF0\x9F\x93\xA7");  // a four-byte character stays
  EXPECT_EQ(xmlText("\xEF\xBF\xBF"
                    "x"),
            "x");  // U+FFFF is not an XML Char
  EXPECT_EQ(xmlText("\xF4\x90\x80\x80"
                    "y"),
            "y");                      // beyond U+10FFFF
  EXPECT_EQ(xmlText("\xE2\x82"), "");  // truncated sequence
}

TEST(DmarcReport, DateRangeIsTheRecordsOrTheWholeDay) {
  DmarcReportBuilder all(options());
  all.add(record("2026-12-06T21:50:00Z", "192.0.2.1", "example.org"));
  all.add(record("2026-12-05T23:59:59Z", "192.0.2.1", "example.org"));
  all.add(record("2026-12-07T00:00:00Z", "192.0.2.1", "example.org"));
  auto r = all.reports().at(0);
  EXPECT_EQ(r.begin, *parseUtcTime("2026-12-05T23:59:59Z"));
  EXPECT_EQ(r.end, *parseUtcTime("2026-12-07T00:00:00Z"));
  EXPECT_NE(r.xml.find("<count>3</count>"), std::string::npos);

  DmarcReportOptions o = options();
  o.day = "2026-12-06";
  DmarcReportBuilder day(o);
  EXPECT_EQ(day.add(record("2026-12-06T21:50:00Z", "192.0.2.1", "example.org")),
            DmarcRecordUse::Counted);
  EXPECT_EQ(day.add(record("2026-12-05T23:59:59Z", "192.0.2.1", "example.org")),
            DmarcRecordUse::OtherDay);
  EXPECT_EQ(day.add(record("2026-12-07T00:00:00Z", "192.0.2.1", "example.org")),
            DmarcRecordUse::OtherDay);
  EXPECT_EQ(day.add(record("yesterday", "192.0.2.1", "example.org")), DmarcRecordUse::BadTime);
  auto d = day.reports().at(0);
  EXPECT_EQ(d.begin, 1796515200);  // 2026-12-06T00:00:00Z
  EXPECT_EQ(d.end, 1796515200 + 86399);
  EXPECT_NE(d.xml.find("<begin>1796515200</begin>"), std::string::npos);
  EXPECT_NE(d.xml.find("<end>1796601599</end>"), std::string::npos);
  EXPECT_NE(d.xml.find("<count>1</count>"), std::string::npos);
}

TEST(DmarcReport, BadDayIsRefused) {
  for (const char* bad : {"2026-13-01", "2026-02-30", "06.12.2026", "2026-12-6", ""}) {
    DmarcReportOptions o = options();
    o.day = bad;
    if (*bad) {
      EXPECT_THROW(DmarcReportBuilder{o}, std::invalid_argument) << bad;
    }
    EXPECT_FALSE(parseUtcDay(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parseUtcTime("2026-12-06T24:00:00Z").has_value());
  EXPECT_FALSE(parseUtcTime("2026-12-06 21:50:00Z").has_value());
}

TEST(DmarcReport, SpDefaultsToPAndThePolicyIsTheLatest) {
  DmarcReportBuilder b(options());
  MessageRecord late = record("2026-12-06T12:00:00Z", "192.0.2.1", "example.org");
  late.dmarc->p = "quarantine";  // sp empty: RFC 7489 6.3, sp is p
  MessageRecord early = record("2026-12-06T08:00:00Z", "192.0.2.1", "example.org");
  early.dmarc->sp = "none";
  b.add(late);
  b.add(early);  // read after, but older: not the policy of the report
  const std::string x = b.reports().at(0).xml;
  EXPECT_NE(x.find("<p>quarantine</p>"), std::string::npos) << x;
  EXPECT_NE(x.find("<sp>quarantine</sp>"), std::string::npos) << x;
}

TEST(DmarcReport, ValuesOutsideTheSchemaStayValid) {
  DmarcReportBuilder b(options());
  MessageRecord r = record("2026-12-06T12:00:00Z", "2001:db8::1", "example.org", "fail");
  r.dmarc->spf.clear();  // appendix C wants at least one spf result
  r.dmarc->dkim = {{"example.org", "", "invalid"}};
  r.dmarc->overrides = {{"arc", ""}};
  b.add(r);
  const std::string x = b.reports().at(0).xml;
  EXPECT_NE(x.find("<source_ip>2001:db8:0:0:0:0:0:1</source_ip>"), std::string::npos) << x;
  EXPECT_NE(x.find("<spf>\n        <domain>example.org</domain>\n        <scope>mfrom</scope>\n"
                   "        <result>none</result>"),
            std::string::npos)
      << x;
  EXPECT_NE(x.find("<result>permerror</result>"), std::string::npos) << x;
  EXPECT_EQ(x.find("<selector>"), std::string::npos) << x;
  EXPECT_NE(x.find("<type>other</type>\n          <comment>arc</comment>"), std::string::npos) << x;
}

TEST(DmarcReport, FileNameCannotLeaveTheDirectory) {
  DmarcReport r;
  r.policyDomain = "../../etc/passwd!x";
  r.begin = 1;
  r.end = 2;
  EXPECT_EQ(dmarcReportFileName("receiver.example", r),
            "receiver.example!.._.._etc_passwd_x!1!2.xml");
}

}  // namespace
}  // namespace mxguard::harness
