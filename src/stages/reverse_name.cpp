// reverse_name.cpp - PTR, then A (IPv4 client) or AAAA (IPv6 client) of every PTR name at once.
// Must not: treat a temporary failure as "not found": that would turn a DNS hiccup into a 5xx.
#include "stages/reverse_name.h"

#include "core/stage.h"

namespace mxguard::stages {

dns::Query ptrQuery(const IpAddress& ip) {
  return {ip.ptrName(), dns::RrType::PTR};
}

ReverseName lookupReverseName(Connection& tx, dns::Resolver& resolver, const IpAddress& ip,
                              std::chrono::milliseconds timeout, bool confirm) {
  ReverseName out{ReverseName::Status::NoPtr, {}, {}, {}};
  auto ptr = cachedLookup(tx, resolver, ptrQuery(ip), timeout);
  if (ptr.status == dns::LookupStatus::TempFail || ptr.status == dns::LookupStatus::PermFail) {
    out.status = ReverseName::Status::PtrTempFail;
    out.error = ptr.error.empty() ? dns::toString(ptr.status) : ptr.error;
    return out;
  }
  if (ptr.status != dns::LookupStatus::Ok || ptr.records.empty()) return out;
  for (const auto& name : ptr.records) {
    if (out.ptrNames.size() >= kMaxPtrNames) break;
    out.ptrNames.push_back(name);
  }
  if (!confirm) {
    out.status = ReverseName::Status::PtrOnly;
    return out;
  }
  std::vector<dns::Query> forward;
  for (const auto& name : out.ptrNames)
    forward.push_back({name, ip.isV4() ? dns::RrType::A : dns::RrType::AAAA});
  auto answers = cachedLookupAll(tx, resolver, forward, timeout);
  bool tempFailed = false;
  for (size_t i = 0; i < answers.size(); ++i) {
    const auto& a = answers[i];
    if (a.status == dns::LookupStatus::TempFail) {
      tempFailed = true;
      if (out.error.empty()) out.error = a.error.empty() ? "temporary failure" : a.error;
    }
    if (a.status != dns::LookupStatus::Ok) continue;
    for (const auto& addr : a.records) {
      auto parsed = IpAddress::parse(addr);
      if (parsed && *parsed == ip) {
        out.status = ReverseName::Status::Confirmed;
        out.confirmedName = out.ptrNames[i];
        return out;
      }
    }
  }
  out.status =
      tempFailed ? ReverseName::Status::ForwardTempFail : ReverseName::Status::NotConfirmed;
  return out;
}

}  // namespace mxguard::stages
