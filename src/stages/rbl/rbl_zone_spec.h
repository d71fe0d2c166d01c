// rbl_zone_spec.h - one DNSBL/DNSWL zone as written in a policy, postscreen syntax:
//   domain[=filter][*weight]   filter: 127.0.0.[2..11], 127.0.[0..255].[1;3], or &0.0.0.4
// Must not: accept a filter it cannot evaluate exactly (a typo must not list everybody).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mxguard::stages {

class RblZoneSpec {
 public:
  // nullopt and *error on a malformed spec.
  static std::optional<RblZoneSpec> parse(const std::string& text, std::string* error);

  const std::string& domain() const { return domain_; }
  int weight() const { return weight_; }
  bool isAllowList() const { return weight_ < 0; }
  // Whether an A answer (already known to be a 127.0.0.0/8 code) counts as a listing.
  bool matches(const std::array<uint8_t, 4>& answer) const;

 private:
  std::string domain_;
  int weight_ = 1;
  bool hasMask_ = false;
  uint32_t mask_ = 0;
  // Per octet: the allowed values; empty = any value.
  std::array<std::vector<std::pair<int, int>>, 4> octets_;
  bool hasPattern_ = false;
};

}  // namespace mxguard::stages
