// address_map_test.cpp - address maps: user@domain, then @domain, then user@; case folding, IDN
// domains, literals, bare local parts, and keys without '@' refused with a pointer to domain maps.
#include <gtest/gtest.h>

#include "map_test_support.h"

namespace mxguard::maps {
namespace {

using test::errorOf;
using test::keyOf;
using test::parse;
using test::valueOf;

TEST(AddressMap, FullThenDomainThenLocalPart) {
  auto map = parse(MapKind::Address,
                   "postmaster@ local\n"
                   "@example.com domain\n"
                   "postmaster@example.com full\n");
  EXPECT_EQ(valueOf(*map, "postmaster@example.com"), "full");
  EXPECT_EQ(valueOf(*map, "other@example.com"), "domain");
  EXPECT_EQ(valueOf(*map, "postmaster@example.org"), "local");
  EXPECT_EQ(valueOf(*map, "other@example.org"), "(none)");
  // @domain is that domain exactly, not its subdomains.
  EXPECT_EQ(valueOf(*map, "other@mail.example.com"), "(none)");
  EXPECT_EQ(valueOf(*map, "postmaster@mail.example.com"), "local");
  EXPECT_EQ(keyOf(*map, "other@example.com"), "@example.com");
  EXPECT_EQ(map->find("other@example.com")->line, 2);

  auto noFull = parse(MapKind::Address, "user@ local\n@example.com domain\n");
  EXPECT_EQ(valueOf(*noFull, "user@example.com"), "domain");
}

TEST(AddressMap, CaseAndTrailingDotsAreFolded) {
  auto map = parse(MapKind::Address,
                   "User@Example.COM full\n"
                   "@EXAMPLE.NET. domain\n"
                   "ABUSE@ local\n");
  EXPECT_EQ(valueOf(*map, "user@example.com"), "full");
  EXPECT_EQ(valueOf(*map, "USER@EXAMPLE.COM."), "full");
  EXPECT_EQ(valueOf(*map, "someone@example.net"), "domain");
  EXPECT_EQ(valueOf(*map, "abuse@anywhere.example"), "local");
  EXPECT_EQ(valueOf(*map, "Abuse@anywhere.example"), "local");
  EXPECT_EQ(keyOf(*map, "user@example.com"), "User@Example.COM");
  EXPECT_EQ(errorOf(MapKind::Address, "user@example.com a\nUSER@EXAMPLE.COM. b\n"),
            "m.map:2: duplicate key 'USER@EXAMPLE.COM.' (first at line 1)");
}

TEST(AddressMap, IdnDomains) {
  auto map = parse(MapKind::Address, "info@bücher.example full\n@XN--MNCHEN-3YA.EXAMPLE domain\n");
  EXPECT_EQ(valueOf(*map, "info@xn--bcher-kva.example"), "full");
  EXPECT_EQ(valueOf(*map, "INFO@XN--BCHER-KVA.EXAMPLE"), "full");
  EXPECT_EQ(valueOf(*map, "info@bücher.example"), "full");
  EXPECT_EQ(valueOf(*map, "anna@münchen.example"), "domain");
  EXPECT_EQ(errorOf(MapKind::Address, "info@☃.example x\n"),
            "m.map:1: 'info@☃.example': '☃.example' is not a valid domain name: string "
            "contains a disallowed character");
}

// A local-part entry speaks for its local part at any domain, even one that cannot be converted.
TEST(AddressMap, LocalPartEntriesOutliveAnUnconvertibleDomain) {
  auto map = parse(MapKind::Address, "spammer@ reject\n@example.com domain\n");
  EXPECT_EQ(valueOf(*map, "spammer@\xff.example"), "reject");
  EXPECT_EQ(valueOf(*map, "other@\xff.example"), "(none)");
  EXPECT_EQ(valueOf(*map, "spammer@a..example"), "reject");
}

TEST(AddressMap, BareLocalPartsAndOddSubjects) {
  auto map = parse(MapKind::Address, "postmaster@ local\n@example.com domain\n");
  EXPECT_EQ(valueOf(*map, "postmaster"), "local");
  EXPECT_EQ(valueOf(*map, "Postmaster"), "local");
  EXPECT_EQ(valueOf(*map, "postmaster@"), "local");
  EXPECT_EQ(valueOf(*map, ""), "(none)");
  EXPECT_EQ(valueOf(*map, "@example.com"), "domain");
  EXPECT_EQ(valueOf(*map, "other"), "(none)");
  // The last '@' separates the domain: a quoted local part may hold one.
  EXPECT_EQ(valueOf(*map, "\"a@b\"@example.com"), "domain");
}

TEST(AddressMap, AddressLiteralDomains) {
  auto map = parse(MapKind::Address, "user@[192.0.2.1] v4\n@[IPv6:2001:db8::1] v6\n");
  EXPECT_EQ(valueOf(*map, "user@[192.0.2.1]"), "v4");
  EXPECT_EQ(valueOf(*map, "other@[IPv6:2001:DB8:0::1]"), "v6");
  EXPECT_EQ(valueOf(*map, "user@192.0.2.1"), "(none)");
}

TEST(AddressMap, BadKeysAreErrorsWithTheirLine) {
  EXPECT_EQ(errorOf(MapKind::Address, "user@example.com ok\nexample.com x\n"),
            "m.map:2: 'example.com' has no '@': use user@domain, user@ or @domain; for a domain "
            "and its subdomains use a domain: map");
  EXPECT_EQ(errorOf(MapKind::Address, "@ x\n"),
            "m.map:1: '@' alone matches nothing: use user@domain, user@ or @domain");
  EXPECT_EQ(errorOf(MapKind::Address, "@.example.com x\n"),
            "m.map:1: '@.example.com': an address map matches a domain exactly; for a domain and "
            "its subdomains use a domain: map");
  EXPECT_EQ(errorOf(MapKind::Address, "user@exa$mple.com x\n"),
            "m.map:1: 'user@exa$mple.com': 'exa$mple.com' is not a valid domain name: '$' in a "
            "name (letters, digits, '-' and '_' only)");
  EXPECT_EQ(errorOf(MapKind::Address, "user@[192.0.2.999] x\n"),
            "m.map:1: 'user@[192.0.2.999]': '[192.0.2.999]' is not an address literal "
            "([192.0.2.1] or [IPv6:2001:db8::1])");
  EXPECT_EQ(errorOf(MapKind::Address, "u\x01@example.com x\n"),
            "m.map:1: control character in the local part of 'u?@example.com'");
  EXPECT_EQ(errorOf(MapKind::Address, std::string(1100, 'a') + "@example.com x\n"),
            "m.map:1: key longer than 1024 bytes");
}

TEST(AddressMap, DuplicateKeysNameTheFirstLine) {
  EXPECT_EQ(errorOf(MapKind::Address, "user@ a\n@example.com b\n# again\nuser@ c\n"),
            "m.map:4: duplicate key 'user@' (first at line 1)");
}

}  // namespace
}  // namespace mxguard::maps
