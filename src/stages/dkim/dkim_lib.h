// dkim_lib.h - includes libopendkim's C header so that it compiles as C++ (its prototypes use
// C99 _Bool, which C++ spells bool; the two have the same size and ABI on our platforms).
// Must not: be included outside src/stages/dkim_* and their tests; it leaks no macro.
#pragma once

#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
