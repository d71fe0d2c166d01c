// name_map_test.cpp - domain and hostname maps: exact names against ".parent" entries, the closest
// parent first, case and trailing dots, IDN keys and subjects, address literals, the domain of an
// address, and bad keys refused with their line.
#include <gtest/gtest.h>

#include "map_test_support.h"

namespace mxguard::maps {
namespace {

using test::errorOf;
using test::keyOf;
using test::parse;
using test::valueOf;

TEST(NameMap, ExactNameAndSubdomainsAreDifferentEntries) {
  auto exact = parse(MapKind::Domain, "example.com exact\n");
  EXPECT_EQ(valueOf(*exact, "example.com"), "exact");
  EXPECT_EQ(valueOf(*exact, "mail.example.com"), "(none)");
  EXPECT_EQ(valueOf(*exact, "com"), "(none)");
  EXPECT_EQ(valueOf(*exact, "badexample.com"), "(none)");

  auto below = parse(MapKind::Domain, ".example.com below\n");
  EXPECT_EQ(valueOf(*below, "example.com"), "(none)");
  EXPECT_EQ(valueOf(*below, "mail.example.com"), "below");
  EXPECT_EQ(valueOf(*below, "a.b.c.example.com"), "below");
  EXPECT_EQ(valueOf(*below, "badexample.com"), "(none)");
  EXPECT_EQ(valueOf(*below, "example.com.evil"), "(none)");
  // A subject is a name, never a key: ".example.com" itself matches nothing.
  EXPECT_EQ(valueOf(*below, ".example.com"), "(none)");
  EXPECT_EQ(valueOf(*below, "mail..example.com"), "(none)");

  auto both = parse(MapKind::Domain, ".example.com below\nexample.com exact\n");
  EXPECT_EQ(valueOf(*both, "example.com"), "exact");
  EXPECT_EQ(valueOf(*both, "www.example.com"), "below");
}

TEST(NameMap, ExactFirstThenTheClosestParent) {
  auto map = parse(MapKind::Hostname,
                   ".com com\n"
                   ".example.com example\n"
                   ".mx.example.com mx\n"
                   "a.mx.example.com a-exact\n");
  EXPECT_EQ(valueOf(*map, "a.mx.example.com"), "a-exact");
  EXPECT_EQ(valueOf(*map, "b.a.mx.example.com"), "mx");
  EXPECT_EQ(valueOf(*map, "b.mx.example.com"), "mx");
  EXPECT_EQ(valueOf(*map, "mx.example.com"), "example");
  EXPECT_EQ(valueOf(*map, "www.example.com"), "example");
  EXPECT_EQ(valueOf(*map, "example.com"), "com");
  EXPECT_EQ(valueOf(*map, "example.org"), "(none)");
  EXPECT_EQ(keyOf(*map, "b.mx.example.com"), ".mx.example.com");
  EXPECT_EQ(map->find("b.mx.example.com")->line, 3);
}

TEST(NameMap, CaseAndTrailingDotsDoNotMatter) {
  auto map = parse(MapKind::Hostname,
                   "Mail.Example.COM. upper-key\n"
                   ".EXAMPLE.NET below\n");
  EXPECT_EQ(valueOf(*map, "mail.example.com"), "upper-key");
  EXPECT_EQ(valueOf(*map, "MAIL.EXAMPLE.COM"), "upper-key");
  EXPECT_EQ(valueOf(*map, "mail.example.com."), "upper-key");
  EXPECT_EQ(valueOf(*map, "Www.Example.Net."), "below");
  // The key as written is what a trace shows.
  EXPECT_EQ(keyOf(*map, "mail.example.com"), "Mail.Example.COM.");
  EXPECT_EQ(valueOf(*map, "mail.example.com.."), "(none)");
}

TEST(NameMap, IdnKeysAndSubjectsMeetAsALabels) {
  auto unicodeKey = parse(MapKind::Domain, "bücher.example u\n.münchen.example below\n");
  EXPECT_EQ(valueOf(*unicodeKey, "xn--bcher-kva.example"), "u");
  EXPECT_EQ(valueOf(*unicodeKey, "XN--BCHER-KVA.EXAMPLE"), "u");
  EXPECT_EQ(valueOf(*unicodeKey, "bücher.example"), "u");
  EXPECT_EQ(valueOf(*unicodeKey, "BÜCHER.example"), "u");
  EXPECT_EQ(valueOf(*unicodeKey, "mail.münchen.example"), "below");
  EXPECT_EQ(valueOf(*unicodeKey, "mail.xn--mnchen-3ya.example"), "below");
  EXPECT_EQ(keyOf(*unicodeKey, "xn--bcher-kva.example"), "bücher.example");
  // "u" + COMBINING DIAERESIS is the same name (NFC).
  EXPECT_EQ(valueOf(*unicodeKey,
                    "bu\xcc\x88"
                    "cher.example"),
            "u");

  auto aLabelKey = parse(MapKind::Domain, "XN--BCHER-KVA.EXAMPLE a\n");
  EXPECT_EQ(valueOf(*aLabelKey, "bücher.example"), "a");
  EXPECT_EQ(valueOf(*aLabelKey, "xn--bcher-kva.example"), "a");
  // A subject libidn2 refuses matches nothing (here: not UTF-8).
  EXPECT_EQ(valueOf(*aLabelKey,
                    "b\xfc"
                    "cher.example"),
            "(none)");
  // Unicode key and A-label key for one name are one key.
  EXPECT_EQ(errorOf(MapKind::Domain, "bücher.example a\nxn--bcher-kva.example b\n"),
            "m.map:2: duplicate key 'xn--bcher-kva.example' (first at line 1)");
}

TEST(NameMap, InvalidIdnKeyIsAnErrorWithLibidn2sReason) {
  EXPECT_EQ(errorOf(MapKind::Domain, "ok.example x\n☃.example x\n"),
            "m.map:2: '☃.example' is not a valid domain name: string contains a disallowed "
            "character");
  EXPECT_EQ(errorOf(MapKind::Hostname, "-bücher.example x\n"),
            "m.map:1: '-bücher.example' is not a valid domain name: string start/ends with "
            "forbidden hyphen");
}

TEST(NameMap, AddressLiteralsAreExactHostnameKeys) {
  auto map = parse(MapKind::Hostname,
                   "[192.0.2.1] v4\n"
                   "[IPv6:2001:DB8::1] v6\n");
  EXPECT_EQ(valueOf(*map, "[192.0.2.1]"), "v4");
  EXPECT_EQ(valueOf(*map, "[192.0.2.2]"), "(none)");
  EXPECT_EQ(valueOf(*map, "[ipv6:2001:db8:0::1]"), "v6");
  EXPECT_EQ(valueOf(*map, "[IPv6:2001:db8::1]"), "v6");
  EXPECT_EQ(valueOf(*map, "192.0.2.1"), "(none)");
  EXPECT_EQ(keyOf(*map, "[ipv6:2001:db8::1]"), "[IPv6:2001:DB8::1]");
  EXPECT_EQ(errorOf(MapKind::Hostname, "[192.0.2.300] x\n"),
            "m.map:1: '[192.0.2.300]' is not an address literal ([192.0.2.1] or "
            "[IPv6:2001:db8::1])");
}

TEST(NameMap, DomainMapsLookUpTheDomainOfAnAddress) {
  auto domain = parse(MapKind::Domain, "example.com exact\n.example.org below\n");
  EXPECT_EQ(valueOf(*domain, "user@example.com"), "exact");
  EXPECT_EQ(valueOf(*domain, "User@Example.COM"), "exact");
  EXPECT_EQ(valueOf(*domain, "\"a@b\"@example.com"), "exact");
  EXPECT_EQ(valueOf(*domain, "user@mail.example.org"), "below");
  EXPECT_EQ(valueOf(*domain, "user@example.org"), "(none)");
  EXPECT_EQ(valueOf(*domain, "user@"), "(none)");
  EXPECT_EQ(valueOf(*domain, "example.com@other.example"), "(none)");

  auto hostname = parse(MapKind::Hostname, "example.com exact\n");
  EXPECT_EQ(valueOf(*hostname, "example.com"), "exact");
  EXPECT_EQ(valueOf(*hostname, "user@example.com"), "(none)");
}

TEST(NameMap, BadKeysAreErrorsWithTheirLine) {
  EXPECT_EQ(errorOf(MapKind::Domain, "ok.example x\n*.example.com x\n"),
            "m.map:2: '*.example.com': no '*' wildcards; '.example.com' matches every name below "
            "example.com");
  EXPECT_EQ(errorOf(MapKind::Domain, "a..example x\n"),
            "m.map:1: 'a..example' is not a valid domain name: empty label");
  EXPECT_EQ(errorOf(MapKind::Domain, "..example x\n"),
            "m.map:1: '..example' is not a valid domain name: empty label");
  EXPECT_EQ(errorOf(MapKind::Domain, ". x\n"),
            "m.map:1: '.' is not a valid domain name: empty name");
  EXPECT_EQ(errorOf(MapKind::Hostname, "user@example.com x\n"),
            "m.map:1: 'user@example.com' is not a valid domain name: '@' in a name (letters, "
            "digits, '-' and '_' only)");
  EXPECT_EQ(errorOf(MapKind::Hostname, std::string(64, 'a') + ".example x\n"),
            "m.map:1: '" + std::string(64, 'a') + ".example' is not a valid domain name: label '" +
                std::string(64, 'a') + "' longer than 63 octets");
  std::string longName;
  for (int i = 0; i < 50; ++i) longName += "abcd.";
  longName += "example";
  EXPECT_EQ(errorOf(MapKind::Hostname, longName + " x\n"),
            "m.map:1: '" + longName.substr(0, 80) +
                "...' is not a valid domain name: longer than 253 octets");
  EXPECT_EQ(errorOf(MapKind::Hostname, "_dmarc.ex-ample.com ok\n"), "no error");
}

TEST(NameMap, DuplicateKeysNameTheFirstLine) {
  EXPECT_EQ(errorOf(MapKind::Domain, "# list\nexample.com a\n.example.com b\n\nExample.COM. c\n"),
            "m.map:5: duplicate key 'Example.COM.' (first at line 2)");
  EXPECT_EQ(errorOf(MapKind::Hostname, "[192.0.2.1] a\n[192.0.2.1] b\n"),
            "m.map:2: duplicate key '[192.0.2.1]' (first at line 1)");
}

}  // namespace
}  // namespace mxguard::maps
