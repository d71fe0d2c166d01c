// phase.h - the SMTP phases a stage can hook, and sets of them (the registry's phase table).
// Must not: know about any stage or about libmilter.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace mxguard {

enum class Phase : uint8_t { Connect, Helo, Mail, Rcpt, Header, Eoh, Body, Eom, Abort, Close };

std::string_view toString(Phase p);

class PhaseSet {
 public:
  constexpr PhaseSet() = default;
  constexpr PhaseSet(std::initializer_list<Phase> phases) {
    for (Phase p : phases) bits_ |= bit(p);
  }
  constexpr bool contains(Phase p) const { return (bits_ & bit(p)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }

 private:
  static constexpr uint16_t bit(Phase p) {
    return static_cast<uint16_t>(1u << static_cast<int>(p));
  }
  uint16_t bits_ = 0;
};

}  // namespace mxguard
