// rdata_presentation_test.cpp - rdata of libunbound answers to LookupResult::records text; the
// rejections are what fuzz_dns_rdata checks (a name is printable or left out).
#include "dns/rdata_presentation.h"

#include <gtest/gtest.h>

#include <string>

#include "core/resolver.h"

namespace mxguard::dns {
namespace {

std::optional<std::string> present(RrType type, const std::string& rdata) {
  return presentRdata(static_cast<int>(type), reinterpret_cast<const unsigned char*>(rdata.data()),
                      rdata.size());
}

TEST(RdataPresentation, PresentsEveryType) {
  EXPECT_EQ(present(RrType::A, std::string("\xc0\x00\x02\x01", 4)), "192.0.2.1");
  EXPECT_EQ(present(RrType::AAAA, std::string("\x20\x01\x0d\xb8", 4) + std::string(11, '\0') +
                                      std::string("\x01", 1)),
            "2001:db8::1");
  EXPECT_EQ(present(RrType::PTR, std::string("\x04mail\x07"
                                             "example\x03net\x00",
                                             18)),
            "mail.example.net");
  EXPECT_EQ(present(RrType::MX, std::string("\x00\x0a\x02mx\x07"
                                            "example\x00",
                                            14)),
            "10 mx.example");
  EXPECT_EQ(present(RrType::MX, std::string("\x00\x00\x00", 3)), "0 ");  // null MX (RFC 7505)
  EXPECT_EQ(present(RrType::TXT, std::string("\x03"
                                             "abc\x02"
                                             "de",
                                             7)),
            "abcde");
}

TEST(RdataPresentation, TxtKeepsRawBytesAndCutsAStringPastTheEnd) {
  EXPECT_EQ(present(RrType::TXT, std::string("\x04"
                                             "a\r\nb",
                                             5)),
            "a\r\nb");
  EXPECT_EQ(present(RrType::TXT, std::string("\x09"
                                             "abc",
                                             4)),
            "abc");
}

// Regression (fuzz_dns_rdata): wireName() copied label bytes as they came, so a PTR or MX name
// could carry CR, LF, NUL or spaces; and a malformed name gave its readable start ("mail"), an MX
// record "10 " that reads as a null MX.
TEST(RdataPresentation, NonPrintableOrMalformedNamesAreRejected) {
  EXPECT_EQ(present(RrType::PTR, std::string("\x05"
                                             "ab\r\nc\x07"
                                             "example\x00",
                                             15)),
            std::nullopt);
  EXPECT_EQ(present(RrType::PTR, std::string("\x03"
                                             "a b\x00",
                                             5)),
            std::nullopt);
  EXPECT_EQ(present(RrType::PTR, std::string("\x03"
                                             "a.b\x00",
                                             5)),
            std::nullopt);
  EXPECT_EQ(present(RrType::PTR, std::string("\x04mail\xc0\x0c", 7)), std::nullopt);  // pointer
  EXPECT_EQ(present(RrType::PTR, std::string("\x04mail\x07"
                                             "exa",
                                             9)),
            std::nullopt);
  EXPECT_EQ(present(RrType::PTR, std::string("\x04mail", 5)), std::nullopt);  // no root label
  EXPECT_EQ(present(RrType::MX, std::string("\x00\x0a\x04mail", 7)), std::nullopt);
  EXPECT_EQ(present(RrType::MX, std::string("\x00\x0a\x02m\x00\x00", 6)), std::nullopt);
  EXPECT_EQ(present(RrType::MX, std::string("\x00\x0a", 2)), std::nullopt);
}

// Regression (fuzz_dns_rdata): nothing bounded a name's length but its rdata's, so a PTR of
// 420 characters came out; RFC 1035 3.1 allows 255 octets in wire form (253 as text).
TEST(RdataPresentation, NamesOver255OctetsAreRejected) {
  std::string label63 = "\x3f" + std::string(63, 'a');
  std::string label61 = "\x3d" + std::string(61, 'a');
  std::string longest = label63 + label63 + label63 + label61 + std::string(1, '\0');  // 255
  ASSERT_EQ(longest.size(), 255u);
  auto name = present(RrType::PTR, longest);
  ASSERT_TRUE(name);
  EXPECT_EQ(name->size(), 253u);
  std::string tooLong =
      label63 + label63 + label63 + "\x3e" + std::string(62, 'a') + std::string(1, '\0');  // 256
  EXPECT_EQ(present(RrType::PTR, tooLong), std::nullopt);
  EXPECT_EQ(present(RrType::MX, std::string("\x00\x0a", 2) + tooLong), std::nullopt);
}

TEST(RdataPresentation, AddressesOfTheWrongLengthAreRejected) {
  EXPECT_EQ(present(RrType::A, std::string("\x7f\x00\x00", 3)), std::nullopt);
  EXPECT_EQ(present(RrType::AAAA, std::string(15, '\0')), std::nullopt);
}

}  // namespace
}  // namespace mxguard::dns
