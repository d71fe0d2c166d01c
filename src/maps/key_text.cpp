// key_text.cpp - the one quoting rule of map errors, so every kind quotes keys alike.
// Must not: cut inside a UTF-8 sequence (the cut moves back to a character's first byte).
#include "maps/key_text.h"

namespace mxguard::maps {

std::string shownKey(std::string_view key) {
  size_t cut = key.size();
  if (cut > 80) {
    cut = 80;
    while (cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xc0) == 0x80) --cut;
  }
  std::string out;
  out.reserve(cut + 3);
  for (unsigned char c : key.substr(0, cut))
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  if (cut < key.size()) out += "...";
  return out;
}

}  // namespace mxguard::maps
