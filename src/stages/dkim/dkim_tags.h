// dkim_tags.h - the few DKIM-Signature tags (RFC 6376 3.5) the dkim stage reads itself: d= and s=
// to prefetch keys and to name a signature libopendkim could not parse, q= to refuse unknown
// query methods (libopendkim does not check q= once a key lookup callback is installed), b=.
// Must not: validate a signature; libopendkim does that, these are read for reporting only.
#pragma once

#include <string>
#include <string_view>

namespace mxguard::stages {

struct SignatureTags {
  std::string d;  // as written, white space removed
  std::string s;
  std::string q;
  bool qPresent = false;  // absent q= means dns/txt
  std::string b8;         // the first 8 characters of b= (white space removed), for header.b
};

// Tolerant: a malformed tag-list yields what could be read; the first occurrence of a tag wins.
SignatureTags parseSignatureTags(std::string_view value);

// RFC 6376 3.5 q=: a colon-separated list; unknown methods are ignored, and one of them must be
// dns/txt (the only method defined). An absent q= (empty string) means dns/txt.
bool hasUsableQueryMethod(std::string_view q, bool present);

}  // namespace mxguard::stages
