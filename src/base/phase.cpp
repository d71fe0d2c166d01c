// phase.cpp - names of phases as they appear in traces, logs and --json.
// Must not: change these strings lightly: logs and golden files depend on them.
#include "base/phase.h"

namespace mxguard {

std::string_view toString(Phase p) {
  switch (p) {
    case Phase::Connect:
      return "connect";
    case Phase::Helo:
      return "helo";
    case Phase::Mail:
      return "mail";
    case Phase::Rcpt:
      return "rcpt";
    case Phase::Header:
      return "header";
    case Phase::Eoh:
      return "eoh";
    case Phase::Body:
      return "body";
    case Phase::Eom:
      return "eom";
    case Phase::Abort:
      return "abort";
    case Phase::Close:
      return "close";
  }
  return "?";
}

}  // namespace mxguard
