// reply_template_test.cpp - template parsing (checked at load) and rendering (sanitised values).
#include "core/reply_template.h"

#include <gtest/gtest.h>

namespace mxguard {
namespace {

const std::set<std::string> kVars{"client_address", "rbl_domain", "rbl_txt"};
const char* kRbl =
    "554 5.7.1 Service unavailable; Client host [${client_address}] blocked using "
    "${rbl_domain}${rbl_txt?; ${rbl_txt}}";

TEST(ReplyTemplate, RendersPostfixRblTextWithTxt) {
  auto t = ReplyTemplate::parse(kRbl, kVars);
  auto r = t.render({{"client_address", "192.0.2.1"},
                     {"rbl_domain", "zen.example"},
                     {"rbl_txt", "see http://x/?1"}});
  EXPECT_EQ(r.code(), 554);
  EXPECT_EQ(r.enhanced(), "5.7.1");
  EXPECT_EQ(
      r.text(),
      "Service unavailable; Client host [192.0.2.1] blocked using zen.example; see http://x/?1");
}

TEST(ReplyTemplate, ConditionalDropsSeparatorWhenEmpty) {
  auto t = ReplyTemplate::parse(kRbl, kVars);
  auto r = t.render({{"client_address", "192.0.2.1"}, {"rbl_domain", "zen.example"}});
  EXPECT_EQ(r.text(), "Service unavailable; Client host [192.0.2.1] blocked using zen.example");
}

TEST(ReplyTemplate, IfEmptyBranch) {
  auto t = ReplyTemplate::parse("550 5.7.1 x${rbl_txt:-none}", kVars);
  EXPECT_EQ(t.render({}).text(), "x-none");
  EXPECT_EQ(t.render({{"rbl_txt", "y"}}).text(), "x");
}

TEST(ReplyTemplate, ValuesAreSanitisedNotInterpreted) {
  auto t = ReplyTemplate::parse("550 5.7.1 [${rbl_txt}]", kVars);
  EXPECT_EQ(t.render({{"rbl_txt", "a\r\n%s ${client_address}"}}).text(),
            "[a??%s ${client_address}]");
}

TEST(ReplyTemplate, UnknownVariableIsAnError) {
  try {
    ReplyTemplate::parse("550 5.7.1 ${client_adress}", kVars);
    FAIL() << "no error";
  } catch (const TemplateError& e) {
    EXPECT_STREQ(e.what(),
                 "unknown variable ${client_adress}; known variables: client_address, rbl_domain, "
                 "rbl_txt");
  }
}

TEST(ReplyTemplate, SyntaxErrors) {
  auto message = [](const char* src) {
    try {
      ReplyTemplate::parse(src, kVars);
    } catch (const TemplateError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("550 5.7.1 ${rbl_txt"), "unterminated ${rbl_txt");
  EXPECT_EQ(message("550 5.7.1 ${rbl_txt?; x"), "unbalanced '{': missing '}'");
  EXPECT_EQ(message("550 5.7.1 ${}"), "empty variable name at offset 0");
  EXPECT_EQ(message("550 5.7.1 ${rbl_txt!}"),
            "unexpected '!' in ${rbl_txt...} (use ${name}, ${name?text} or ${name:text})");
  EXPECT_EQ(message("Blocked"),
            "must start with a reply code and an enhanced code, e.g. '554 5.7.1 text'");
  EXPECT_EQ(message("250 2.0.0 fine"), "reply code 250 is not a 4xx or 5xx code");
  EXPECT_EQ(message("550 4.7.1 x"),
            "enhanced status code 4.7.1 does not match reply code 550 (the class must be 5)");
  EXPECT_EQ(message("550 5.7.1"), "the reply text is missing");
  EXPECT_EQ(message("550 55.7.1 x"), "invalid enhanced status code '55.7.1' (use e.g. 5.7.1)");
}

TEST(ReplyTemplate, UsesNamesOnlyTheVariablesTheTextRefersTo) {
  const std::set<std::string> vars{"rbl_domain", "rbl_txt", "rbl_code"};
  auto t = ReplyTemplate::parse("550 5.7.1 blocked by ${rbl_domain}${rbl_txt?; ${rbl_txt}}", vars);
  EXPECT_TRUE(t.uses("rbl_domain"));
  EXPECT_TRUE(t.uses("rbl_txt"));
  EXPECT_FALSE(t.uses("rbl_code"));
  auto nested = ReplyTemplate::parse("550 5.7.1 x${rbl_domain? (${rbl_code})}", vars);
  EXPECT_TRUE(nested.uses("rbl_code"));
  EXPECT_FALSE(ReplyTemplate::parse("550 5.7.1 costs $${rbl_txt}", vars).uses("rbl_txt"));
}

TEST(ReplyTemplate, DollarWithoutBraceIsLiteral) {
  auto t = ReplyTemplate::parse("550 5.7.1 costs $5 and $$x", kVars);
  EXPECT_EQ(t.render({}).text(), "costs $5 and $x");
}

}  // namespace
}  // namespace mxguard
