// terminal_output_test.cpp - issue 28: mxguard-check's text output cannot drive the terminal: a
// remote server's ESC, OSC and BEL bytes (callout dialogue, reply, log) print as '?'.
// Must not: test the JSON output here; JSON escapes control bytes itself (report.cpp).
#include <gtest/gtest.h>

#include "harness/explain.h"
#include "harness/replay.h"
#include "harness/report.h"

namespace mxguard::harness {
namespace {

// The bytes a terminal acts on: C0 controls but LF and TAB, DEL, and C1 (8-bit CSI/OSC).
bool hasTerminalControls(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return true;
    if (c >= 0x80 && c < 0xa0) {
      // Inside a multi-byte character it is a continuation byte; alone, or after C2 (U+0080..
      // U+009F), a terminal may take it for CSI or OSC.
      unsigned char before = i == 0 ? 0 : static_cast<unsigned char>(s[i - 1]);
      if (before < 0x80 || before == 0xc2) return true;
    }
  }
  return false;
}

const std::string kHostile =
    "host said: 550 \x1b]0;owned\x07 \x1b[2J \xc2\x9b"
    "31m \x9b"
    "1m";

Outcome hostileOutcome() {
  Outcome o;
  Step rcpt;
  rcpt.command = "MAIL FROM:<a@example.org>";
  rcpt.code = 550;
  rcpt.enhanced = "5.1.7";
  rcpt.text = "Sender address rejected: undeliverable address: " + kHostile;
  rcpt.stage = "callout";
  rcpt.reason = "callout.rejected";
  rcpt.phase = "mail";
  o.steps.push_back(rcpt);
  Step multi = rcpt;
  multi.lines = {"first \x1b[1m", "second \x07"};
  o.steps.push_back(multi);
  o.firstRejection = rcpt;
  o.action = "reject";
  o.trace.push_back({Phase::Mail, "callout", "rejected", "dialogue: " + kHostile, "reject"});
  o.log.push_back("info: callout: " + kHostile);
  o.addedHeaders.push_back({"X-Test", "a\n\tb \x1b[0m café", " "});
  return o;
}

TEST(TerminalOutput, RemoteControlBytesPrintAsQuestionMarks) {
  std::string out = formatText(hostileOutcome());
  EXPECT_FALSE(hasTerminalControls(out)) << out;
  EXPECT_NE(out.find("host said: 550 ?]0;owned? ?[2J ?31m ?1m"), std::string::npos) << out;
  EXPECT_NE(out.find("<<< 550-5.1.7 first ?[1m\n<<< 550 5.1.7 second ?\n"), std::string::npos)
      << out;
  // Folding stays (LF + indent, TAB), and so does valid UTF-8.
  EXPECT_NE(out.find("  + X-Test: a\n    \tb ?[0m café\n"), std::string::npos) << out;
}

TEST(TerminalOutput, ExplainTextIsSanitisedToo) {
  Finding f;
  f.reason = "callout.rejected";
  f.phase = "mail";
  f.status = "rejected";
  f.evidence = kHostile;
  f.reply = "550 5.1.7 " + kHostile;
  f.meaning = "The sender's server \x1b[5m said no.";
  f.fix = "Ask \x07 the sender.";
  std::string out = formatFindingsText({f});
  EXPECT_FALSE(hasTerminalControls(out)) << out;
  EXPECT_NE(out.find("evidence:      host said: 550 ?]0;owned? ?[2J ?31m ?1m\n"), std::string::npos)
      << out;
}

TEST(TerminalOutput, TerminalTextKeepsPrintableAndUtf8) {
  EXPECT_EQ(terminalText("plain text, 100%"), "plain text, 100%");
  EXPECT_EQ(terminalText("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"), "café € 📧");
  EXPECT_EQ(terminalText("a\x1b"
                         "b\x07"
                         "c\x7f"
                         "d\r\ne"),
            "a?b?c?d??e");
  // C1 controls (U+0080..U+009F), invalid and truncated UTF-8, overlong forms, surrogates.
  EXPECT_EQ(terminalText("\xc2\x9b|\x9b|\xff|\xe2\x82|\xc0\xaf|\xed\xa0\x80"), "?|?|?|??|??|???");
}

TEST(TerminalOutput, ReplayExamplesShowRecordedValuesWithoutControls) {
  ReplayReport r;
  r.total = 1;
  ReplayChange c;
  c.record.clientAddress = "192.0.2.1";
  c.record.helo = "evil\x1b]0;owned\x07";
  c.record.sender = "a\x1b[2J@example.org";
  c.before = "accepted";
  c.after = "rejected";
  c.afterReply = "550 5.7.1 \x9b31m";
  r.changes["accepted -> rejected"]["x.y"] = 1;
  r.examples.push_back(c);
  std::string out = formatReplay(r, "rec.jsonl", "new.conf", "");
  EXPECT_FALSE(hasTerminalControls(out)) << out;
  EXPECT_NE(out.find("helo=<evil?]0;owned?>"), std::string::npos) << out;
}

}  // namespace
}  // namespace mxguard::harness
