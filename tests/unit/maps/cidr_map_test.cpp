// cidr_map_test.cpp - cidr maps: the most specific network wins, IPv4 and IPv6 in one map,
// IPv4-mapped clients, keys with host bits set and other bad keys refused with their line.
#include <gtest/gtest.h>

#include "map_test_support.h"

namespace mxguard::maps {
namespace {

using test::errorOf;
using test::keyOf;
using test::parse;
using test::valueOf;

std::string addressValue(const Map& map, const char* text) {
  auto ip = IpAddress::parse(text);
  EXPECT_TRUE(ip) << text;
  auto e = map.findAddress(*ip);
  return e ? std::string(e->value) : "(none)";
}

TEST(CidrMap, HitsAndMisses) {
  auto map = parse(MapKind::Cidr,
                   "192.0.2.0/24 net\n"
                   "198.51.100.7 host\n");
  EXPECT_EQ(map->size(), 2u);
  EXPECT_EQ(addressValue(*map, "192.0.2.0"), "net");
  EXPECT_EQ(addressValue(*map, "192.0.2.255"), "net");
  EXPECT_EQ(addressValue(*map, "192.0.3.0"), "(none)");
  EXPECT_EQ(addressValue(*map, "192.0.1.255"), "(none)");
  EXPECT_EQ(addressValue(*map, "198.51.100.7"), "host");
  EXPECT_EQ(addressValue(*map, "198.51.100.6"), "(none)");
  EXPECT_EQ(addressValue(*map, "198.51.100.8"), "(none)");
  auto e = map->findAddress(*IpAddress::parse("192.0.2.9"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key, "192.0.2.0/24");
  EXPECT_EQ(e->line, 1);
}

TEST(CidrMap, MostSpecificNetworkWins) {
  auto map = parse(MapKind::Cidr,
                   "10.1.2.3 host\n"
                   "10.0.0.0/8 eight\n"
                   "10.1.2.0/24 twentyfour\n"
                   "10.1.0.0/16 sixteen\n");
  EXPECT_EQ(addressValue(*map, "10.1.2.3"), "host");
  EXPECT_EQ(addressValue(*map, "10.1.2.4"), "twentyfour");
  EXPECT_EQ(addressValue(*map, "10.1.2.2"), "twentyfour");
  EXPECT_EQ(addressValue(*map, "10.1.3.0"), "sixteen");
  EXPECT_EQ(addressValue(*map, "10.1.1.255"), "sixteen");
  EXPECT_EQ(addressValue(*map, "10.2.0.0"), "eight");
  EXPECT_EQ(addressValue(*map, "10.0.255.255"), "eight");
  EXPECT_EQ(addressValue(*map, "10.255.255.255"), "eight");
  EXPECT_EQ(addressValue(*map, "11.0.0.0"), "(none)");
  EXPECT_EQ(addressValue(*map, "9.255.255.255"), "(none)");
}

TEST(CidrMap, SiblingsAndTheirEnds) {
  auto map = parse(MapKind::Cidr,
                   "10.0.0.0/8 outer\n"
                   "10.1.0.0/16 a\n"
                   "10.2.0.0/16 b\n"
                   "10.2.0.0/17 b-low\n"
                   "10.255.0.0/16 last\n");
  EXPECT_EQ(addressValue(*map, "10.1.255.255"), "a");
  EXPECT_EQ(addressValue(*map, "10.2.0.0"), "b-low");
  EXPECT_EQ(addressValue(*map, "10.2.127.255"), "b-low");
  EXPECT_EQ(addressValue(*map, "10.2.128.0"), "b");
  EXPECT_EQ(addressValue(*map, "10.3.0.0"), "outer");
  EXPECT_EQ(addressValue(*map, "10.255.255.255"), "last");
  EXPECT_EQ(addressValue(*map, "10.254.255.255"), "outer");
  EXPECT_EQ(addressValue(*map, "11.0.0.0"), "(none)");
}

TEST(CidrMap, SlashZeroIsTheDefault) {
  auto map = parse(MapKind::Cidr,
                   "0.0.0.0/0 default4\n"
                   "192.0.2.0/24 doc\n"
                   "255.255.255.255 broadcast\n"
                   "::/0 default6\n");
  EXPECT_EQ(addressValue(*map, "0.0.0.0"), "default4");
  EXPECT_EQ(addressValue(*map, "203.0.113.1"), "default4");
  EXPECT_EQ(addressValue(*map, "192.0.2.1"), "doc");
  EXPECT_EQ(addressValue(*map, "192.0.3.0"), "default4");
  EXPECT_EQ(addressValue(*map, "255.255.255.255"), "broadcast");
  EXPECT_EQ(addressValue(*map, "255.255.255.254"), "default4");
  EXPECT_EQ(addressValue(*map, "2001:db8::1"), "default6");
  EXPECT_EQ(addressValue(*map, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), "default6");
}

TEST(CidrMap, IPv6AndIPv4InOneMap) {
  auto map = parse(MapKind::Cidr,
                   "2001:db8::/32 doc6\n"
                   "2001:db8:1::/48 site\n"
                   "2001:db8:1::1 host6\n"
                   "192.0.2.0/24 doc4\n");
  EXPECT_EQ(addressValue(*map, "2001:db8::5"), "doc6");
  EXPECT_EQ(addressValue(*map, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), "doc6");
  EXPECT_EQ(addressValue(*map, "2001:db8:1::2"), "site");
  EXPECT_EQ(addressValue(*map, "2001:db8:1::1"), "host6");
  EXPECT_EQ(addressValue(*map, "2001:db9::"), "(none)");
  EXPECT_EQ(addressValue(*map, "2001:db7:ffff::"), "(none)");
  EXPECT_EQ(addressValue(*map, "192.0.2.1"), "doc4");
  // 192.0.2.1's bits in IPv6 (::c000:201) are not the IPv4 network.
  EXPECT_EQ(addressValue(*map, "::c000:201"), "(none)");
}

TEST(CidrMap, IPv4MappedClientsAndKeys) {
  auto map = parse(MapKind::Cidr,
                   "192.0.2.0/24 doc4\n"
                   "::ffff:198.51.100.0/120 mapped-key\n");
  EXPECT_EQ(addressValue(*map, "::ffff:192.0.2.1"), "doc4");
  EXPECT_EQ(valueOf(*map, "::ffff:192.0.2.1"), "doc4");
  EXPECT_EQ(addressValue(*map, "198.51.100.9"), "mapped-key");
  EXPECT_EQ(addressValue(*map, "::ffff:198.51.100.9"), "mapped-key");
}

TEST(CidrMap, FindParsesTheSubject) {
  auto map = parse(MapKind::Cidr, "192.0.2.0/24 doc4\n2001:db8::/32 doc6\n");
  EXPECT_EQ(valueOf(*map, "192.0.2.1"), "doc4");
  EXPECT_EQ(valueOf(*map, "[192.0.2.1]"), "doc4");
  EXPECT_EQ(valueOf(*map, "[IPv6:2001:db8::1]"), "doc6");
  EXPECT_EQ(keyOf(*map, "2001:db8::1"), "2001:db8::/32");
  EXPECT_EQ(valueOf(*map, "mail.example.com"), "(none)");
  EXPECT_EQ(valueOf(*map, ""), "(none)");
}

TEST(CidrMap, HostBitsSetIsAnErrorNamingTheNetwork) {
  EXPECT_EQ(errorOf(MapKind::Cidr, "# clients\n192.0.2.1/24 x\n"),
            "m.map:2: '192.0.2.1/24' has host bits set: the network is 192.0.2.0/24 (for the one "
            "address, leave out the '/24')");
  EXPECT_EQ(errorOf(MapKind::Cidr, "2001:db8::1/32 x\n"),
            "m.map:1: '2001:db8::1/32' has host bits set: the network is 2001:db8::/32 (for the "
            "one address, leave out the '/32')");
  EXPECT_EQ(errorOf(MapKind::Cidr, "10.0.0.1/0 x\n"),
            "m.map:1: '10.0.0.1/0' has host bits set: the network is 0.0.0.0/0 (for the one "
            "address, leave out the '/0')");
}

TEST(CidrMap, BadKeysAreErrorsWithTheirLine) {
  EXPECT_EQ(errorOf(MapKind::Cidr, "192.0.2.0/24 ok\nmail.example.com x\n"),
            "m.map:2: 'mail.example.com' is not a network (192.0.2.0/24, 2001:db8::/32) or an "
            "address");
  EXPECT_EQ(errorOf(MapKind::Cidr, "192.0.2 x\n"),
            "m.map:1: '192.0.2' is not a network (192.0.2.0/24, 2001:db8::/32) or an address");
  EXPECT_EQ(errorOf(MapKind::Cidr, "192.0.2.0/33 x\n"),
            "m.map:1: '192.0.2.0/33': prefix length 33 is longer than 32 bits");
  EXPECT_EQ(errorOf(MapKind::Cidr, "2001:db8::/129 x\n"),
            "m.map:1: '2001:db8::/129': prefix length 129 is longer than 128 bits");
  EXPECT_EQ(errorOf(MapKind::Cidr, "192.0.2.0/ x\n"),
            "m.map:1: '192.0.2.0/': the prefix length after '/' must be a number from 0 to 32");
  EXPECT_EQ(errorOf(MapKind::Cidr, "192.0.2.0/2x x\n"),
            "m.map:1: '192.0.2.0/2x': the prefix length after '/' must be a number from 0 to 32");
  EXPECT_EQ(errorOf(MapKind::Cidr, "[192.0.2.1] x\n"),
            "m.map:1: '[192.0.2.1]' is not a network (192.0.2.0/24, 2001:db8::/32) or an address");
}

TEST(CidrMap, DuplicateNetworkNamesTheFirstLine) {
  EXPECT_EQ(errorOf(MapKind::Cidr, "192.0.2.0/24 a\n10.0.0.0/8 b\n\n192.0.2.0/24 c\n"),
            "m.map:4: duplicate key '192.0.2.0/24' (first at line 1)");
  // One network however it is spelt.
  EXPECT_EQ(errorOf(MapKind::Cidr, "192.0.2.7 a\n192.0.2.7/32 b\n"),
            "m.map:2: duplicate key '192.0.2.7/32' (first at line 1)");
  EXPECT_EQ(errorOf(MapKind::Cidr, "2001:DB8::/32 a\n2001:0db8:0::/32 b\n"),
            "m.map:2: duplicate key '2001:0db8:0::/32' (first at line 1)");
  // The earliest repetition is reported, whatever the family.
  EXPECT_EQ(errorOf(MapKind::Cidr,
                    "2001:db8::/32 a\n10.0.0.0/8 b\n10.0.0.0/8 c\n2001:db8::/32 d\n"
                    "10.0.0.0/8 e\n"),
            "m.map:3: duplicate key '10.0.0.0/8' (first at line 2)");
}

TEST(CidrMap, MissingValueIsEmpty) {
  auto map = parse(MapKind::Cidr, "192.0.2.0/24\n");
  auto e = map->find("192.0.2.1");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->value, "");
}

TEST(CidrMap, OtherKindsDoNotAnswerAddresses) {
  auto map = parse(MapKind::Domain, "example.com x\n");
  EXPECT_FALSE(map->findAddress(*IpAddress::parse("192.0.2.1")));
}

}  // namespace
}  // namespace mxguard::maps
