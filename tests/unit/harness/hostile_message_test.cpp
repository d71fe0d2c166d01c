// hostile_message_test.cpp - mxguard-check's dialogue with spf, headers and dkim on messages that
// break the rules: truncated, 10,000 fields, a 1 MB line, NUL, invalid UTF-8, impossible dates,
// DKIM signatures with garbage tags. Each gets its exact reply and trace, none a crash.
#include <gtest/gtest.h>

#include "app/policy_loader.h"
#include "fakes/fake_resolver.h"
#include "harness/dialogue.h"

namespace mxguard::testing {
namespace {

using dns::RrType;

const std::string kBase =
    "From: a@example.org\r\nTo: b@example.net\r\nSubject: x\r\n"
    "Date: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n";

struct HostileMessage : ::testing::Test {
  std::shared_ptr<FakeResolver> dns = [] {
    auto r = std::make_shared<FakeResolver>();
    r->answer("example.org", RrType::TXT, {"v=spf1 ip4:192.0.2.10 -all"});
    return r;
  }();
  harness::Outcome run(const std::string& message) {
    app::PolicyLoadOptions o;
    o.resolver = dns;
    o.ourHostname = "mx.example.net";
    auto policy = app::loadPolicyText(
        "[engine]\nstages = spf headers dkim\nwhitelist_clients =\n[headers]\ndate_range = off\n"
        "date_syntax = reject\n",
        "t.conf", o);
    harness::Transcript t;
    t.clientIp = "192.0.2.10";
    t.helo = "mail.example.org";
    t.sender = "a@example.org";
    t.recipients = {"b@example.net"};
    t.message = message;
    t.ourHostname = "mx.example.net";
    return harness::runDialogue(policy, t);
  }
  static std::string endOfData(const harness::Outcome& o) {
    for (const auto& s : o.steps)
      if (s.command == "(end of data)")
        return std::to_string(s.code) + " " + s.enhanced + " " + s.text;
    return "(no DATA)";
  }
  static std::string traced(const harness::Outcome& o, const std::string& stage) {
    std::string out;
    for (const auto& t : o.trace)
      if (t.stage == stage) out += (out.empty() ? "" : " | ") + t.outcome + ": " + t.detail;
    return out;
  }
  // The log lines that start, after their level, with `prefix`.
  static std::string logged(const harness::Outcome& o, const std::string& prefix) {
    std::string out;
    for (const auto& l : o.log)
      if (l.find(": " + prefix) != std::string::npos && l.find(": " + prefix) < 10)
        out += (out.empty() ? "" : " | ") + l;
    return out;
  }
};

TEST_F(HostileMessage, CleanMessageShowsAllThreeStages) {
  auto o = run(kBase + "\r\nbody\r\n");
  EXPECT_EQ(endOfData(o), "250 2.0.0 Ok: queued");
  EXPECT_EQ(traced(o, "spf"),
            "pass: mailfrom a@example.org: pass (record \"v=spf1 ip4:192.0.2.10 -all\")");
  EXPECT_EQ(traced(o, "dkim"), "none: no signature");
  ASSERT_EQ(o.addedHeaders.size(), 2u);
  EXPECT_EQ(o.addedHeaders[1].value,
            "mx.example.net;\n\tspf=pass smtp.mailfrom=a@example.org;\n\tdkim=none");
}

TEST_F(HostileMessage, TruncatedMessageWithoutBody) {
  auto o = run(kBase);
  EXPECT_EQ(endOfData(o), "250 2.0.0 Ok: queued");
  EXPECT_EQ(traced(o, "dkim"), "none: no signature");
}

TEST_F(HostileMessage, TenThousandFields) {
  std::string m = kBase;
  for (int i = 0; i < 10000; ++i) m += "X-F" + std::to_string(i) + ": v\r\n";
  auto o = run(m + "\r\nbody\r\n");
  EXPECT_EQ(endOfData(o), "250 2.0.0 Ok: queued");
}

TEST_F(HostileMessage, OneMegabyteLine) {
  auto o = run(kBase + "X-Long: " + std::string(1 << 20, 'a') + "\r\n\r\nbody\r\n");
  EXPECT_EQ(endOfData(o), "250 2.0.0 Ok: queued");  // line_length warns by default
  EXPECT_EQ(traced(o, "headers"), "line_length: long line in X-Long");
  EXPECT_EQ(logged(o, "headers: "),
            "warning: headers: reject_warning (line_length = warn): would reply: 550 5.6.0 "
            "Message rejected: a line of the X-Long header field is longer than 998 characters "
            "(RFC 5322 section 2.1.1) (headers.line_length)");
}

TEST_F(HostileMessage, NulByte) {
  auto o = run(kBase + std::string("X-Nul: a\0b\r\n", 12) + "\r\nbody\r\n");
  EXPECT_EQ(endOfData(o),
            "550 5.6.0 Message rejected: NUL character in the X-Nul header field (RFC 5322 "
            "section 2.2)");
}

TEST_F(HostileMessage, InvalidUtf8) {
  std::string m = kBase;
  m.replace(m.find("Subject: x"), 10, "Subject: \xff\xfe\xc3");
  auto o = run(m + "\r\nbody\r\n");
  EXPECT_EQ(endOfData(o), "250 2.0.0 Ok: queued");  // eight_bit warns by default
  EXPECT_EQ(traced(o, "headers"), "eight_bit: 8-bit in Subject");
  EXPECT_EQ(logged(o, "headers: "),
            "warning: headers: reject_warning (eight_bit = warn): would reply: 550 5.6.0 Message "
            "rejected: 8-bit characters in the Subject header field without SMTPUTF8 (RFC 5322 "
            "section 2.2, RFC 6532) (headers.eight_bit)");
}

TEST_F(HostileMessage, ImpossibleDate) {
  std::string m = kBase;
  m.replace(m.find("Tue, 1 Dec 2026 10:00:00 +0000"), 30, "Tue, 31 Feb 2026 25:61:00 +9999");
  auto o = run(m + "\r\nbody\r\n");
  EXPECT_EQ(endOfData(o),
            "550 5.6.0 Message rejected: Date header field is not a valid date (invalid time "
            "zone '+9999'): \"Tue, 31 Feb 2026 25:61:00 +9999\" (RFC 5322 section 3.3)");
}

TEST_F(HostileMessage, DkimSignatureWithGarbageTags) {
  auto o =
      run("DKIM-Signature: v=1; a=rsa-sha256; d=; s=;; b=!!!; bh=@@; h=from; x=abc; l=-5; "
          "zz\r\n" +
          kBase + "\r\nbody\r\n");
  EXPECT_EQ(endOfData(o), "250 2.0.0 Ok: queued");
  std::string dkim = traced(o, "dkim");
  EXPECT_EQ(dkim, "permerror: permerror d=(none) s=(none): domain tag empty");
}

}  // namespace
}  // namespace mxguard::testing
