// fake_resolver.h - a Resolver for unit tests: scripted answers, NXDOMAIN, NODATA, SERVFAIL and
// timeouts, and a record of every batch asked (to assert that queries go out together, and count).
// Must not: be used by integration tests (they resolve through a real DNS server).
#pragma once

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "core/resolver.h"

namespace mxguard::testing {

class FakeResolver : public dns::Resolver {
 public:
  using Key = std::pair<std::string, dns::RrType>;

  FakeResolver& answer(const std::string& name, dns::RrType type, std::vector<std::string> records,
                       uint32_t ttl = 300) {
    return set(name, type, {dns::LookupStatus::Ok, std::move(records), ttl, ""});
  }
  FakeResolver& nxdomain(const std::string& name, dns::RrType type) {
    return set(name, type, {dns::LookupStatus::NotFound, {}, 60, ""});
  }
  FakeResolver& nodata(const std::string& name, dns::RrType type) {
    return set(name, type, {dns::LookupStatus::NoData, {}, 60, ""});
  }
  FakeResolver& servfail(const std::string& name, dns::RrType type) {
    return set(name, type, {dns::LookupStatus::TempFail, {}, 0, "SERVFAIL"});
  }
  FakeResolver& timeout(const std::string& name, dns::RrType type) {
    return set(name, type, {dns::LookupStatus::TempFail, {}, 0, "timed out after 5000 ms"});
  }

  std::vector<dns::LookupResult> lookupAll(const std::vector<dns::Query>& queries,
                                           std::chrono::milliseconds) override {
    std::lock_guard guard(mutex_);
    if (recordQueries) batches_.push_back(queries);
    std::vector<dns::LookupResult> out;
    for (const auto& q : queries) {
      auto it = answers_.find({q.name, q.type});
      out.push_back(it != answers_.end()
                        ? it->second
                        : dns::LookupResult{dns::LookupStatus::NotFound, {}, 60, ""});
    }
    return out;
  }

  // Off in the fuzz targets: millions of inputs would keep every query they asked.
  bool recordQueries = true;

  std::vector<std::vector<dns::Query>> batches() const {
    std::lock_guard guard(mutex_);
    return batches_;
  }
  // Every query asked, batches flattened in order (to count what a list operator would meter).
  std::vector<dns::Query> queries() const {
    std::lock_guard guard(mutex_);
    std::vector<dns::Query> all;
    for (const auto& batch : batches_) all.insert(all.end(), batch.begin(), batch.end());
    return all;
  }

 private:
  FakeResolver& set(const std::string& name, dns::RrType type, dns::LookupResult r) {
    std::lock_guard guard(mutex_);
    answers_[{name, type}] = std::move(r);
    return *this;
  }
  mutable std::mutex mutex_;
  std::map<Key, dns::LookupResult> answers_;
  std::vector<std::vector<dns::Query>> batches_;
};

}  // namespace mxguard::testing
