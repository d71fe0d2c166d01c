// ip_address_test.cpp - address parsing, IPv4-mapped folding, DNSBL/PTR names, CIDR matching.
#include "core/ip_address.h"

#include <gtest/gtest.h>

namespace mxguard {
namespace {

TEST(IpAddress, ParsesV4AndV6) {
  EXPECT_EQ(IpAddress::parse("192.0.2.1")->toString(), "192.0.2.1");
  EXPECT_EQ(IpAddress::parse("2001:DB8::1")->toString(), "2001:db8::1");
  EXPECT_EQ(IpAddress::parse("[192.0.2.1]")->toString(), "192.0.2.1");
  EXPECT_EQ(IpAddress::parse("IPv6:2001:db8::1")->toString(), "2001:db8::1");
  EXPECT_FALSE(IpAddress::parse("192.0.2"));
  EXPECT_FALSE(IpAddress::parse("unknown"));
  EXPECT_FALSE(IpAddress::parse(""));
  EXPECT_FALSE(IpAddress::parse(std::string(1000, '1')));
}

TEST(IpAddress, FoldsIpv4MappedToIpv4) {
  auto ip = IpAddress::parse("::ffff:192.0.2.7");
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->isV4());
  EXPECT_EQ(ip->toString(), "192.0.2.7");
  EXPECT_EQ(*ip, *IpAddress::parse("192.0.2.7"));
}

TEST(IpAddress, DnsblAndPtrNames) {
  EXPECT_EQ(IpAddress::parse("192.0.2.1")->reversedName(), "1.2.0.192");
  EXPECT_EQ(IpAddress::parse("192.0.2.1")->ptrName(), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(IpAddress::parse("10.0.99.250")->reversedName(), "250.99.0.10");
  EXPECT_EQ(IpAddress::parse("2001:db8::567:89ab")->ptrName(),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(Cidr, MatchesPrefixes) {
  auto net = Cidr::parse("192.0.2.0/24");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(*IpAddress::parse("192.0.2.200")));
  EXPECT_FALSE(net->contains(*IpAddress::parse("192.0.3.1")));
  EXPECT_TRUE(net->contains(*IpAddress::parse("::ffff:192.0.2.9")));
  auto v6 = Cidr::parse("2001:db8::/33");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*IpAddress::parse("2001:db8:7fff::1")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse("2001:db8:8000::1")));
  EXPECT_FALSE(v6->contains(*IpAddress::parse("192.0.2.1")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(*IpAddress::parse("203.0.113.5")));
  EXPECT_TRUE(Cidr::parse("192.0.2.5")->contains(*IpAddress::parse("192.0.2.5")));
  EXPECT_FALSE(Cidr::parse("192.0.2.0/33"));
  EXPECT_FALSE(Cidr::parse("192.0.2.0/"));
  EXPECT_FALSE(Cidr::parse("192.0.2.0/2x"));
}

}  // namespace
}  // namespace mxguard
