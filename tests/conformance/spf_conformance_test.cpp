// spf_conformance_test.cpp - the openspf RFC 7208 test suite (../shared/conformance/spf, read in
// place) through the spf stage (its SpfEvaluator: libspf2 behind our DNS layer), each
// scenario's zone data served
// by an in-memory Resolver that follows the suite driver's rules (SPF copied to TXT, TIMEOUT,
// NXDOMAIN vs NODATA, CNAME, names without case).
// Must not: copy the suite into the project or hide a deviation: every failure is listed, and
// the known ones are named in kKnownDeviations with their cause.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "config/config_file.h"
#include "stages/registry.h"

namespace mxguard::stages {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// One scenario's zonedata as a Resolver.
class ZoneResolver : public dns::Resolver {
 public:
  struct Entry {
    std::string type;  // "A", "TXT", ..., or "TIMEOUT"
    std::string value;
  };

  explicit ZoneResolver(const YAML::Node& zonedata) {
    for (const auto& owner : zonedata) {
      auto& entries = zone_[lower(owner.first.as<std::string>())];
      bool explicitTxt = false;
      for (const auto& rr : owner.second) {
        if (rr.IsScalar()) {
          entries.push_back({"TIMEOUT", ""});
          continue;
        }
        for (const auto& kv : rr) {
          std::string type = kv.first.as<std::string>();
          if (type == "TXT") explicitTxt = true;
          if (type == "TXT" && kv.second.IsScalar() && kv.second.as<std::string>() == "NONE")
            continue;  // "TXT: NONE": SPF-type records only
          entries.push_back({type, text(type, kv.second)});
        }
      }
      if (!explicitTxt) {  // SPF records are served as TXT too (RFC 7208 3.1)
        std::vector<Entry> copies;
        for (const auto& e : entries) copies.push_back(e.type == "SPF" ? Entry{"TXT", e.value} : e);
        entries = copies;
      }
    }
  }

  std::vector<dns::LookupResult> lookupAll(const std::vector<dns::Query>& qs,
                                           std::chrono::milliseconds) override {
    std::vector<dns::LookupResult> out;
    for (const auto& q : qs) out.push_back(find(lower(q.name), q.type, 0));
    return out;
  }

 private:
  static std::string text(const std::string& type, const YAML::Node& v) {
    if (type == "MX") return v[0].as<std::string>() + " " + v[1].as<std::string>();
    if (v.IsSequence()) {  // several character-strings of one record: joined without a space
      std::string s;
      for (const auto& part : v) s += part.as<std::string>();
      return s;
    }
    return v.as<std::string>();
  }

  dns::LookupResult find(const std::string& name, dns::RrType type, int depth) const {
    auto it = zone_.find(name);
    if (it == zone_.end()) return {dns::LookupStatus::NotFound, {}, 60, ""};
    const std::string want = toString(type);
    std::vector<std::string> records;
    for (const auto& e : it->second) {
      if (e.type == "TIMEOUT") {
        if (records.empty()) return {dns::LookupStatus::TempFail, {}, 0, "timed out"};
        break;
      }
      if (e.type == "CNAME" && type != dns::RrType::CNAME) {
        if (depth > 8) return {dns::LookupStatus::TempFail, {}, 0, "SERVFAIL (CNAME loop)"};
        return find(lower(e.value), type, depth + 1);
      }
      if (e.type == want) records.push_back(e.value);
    }
    if (records.empty()) return {dns::LookupStatus::NoData, {}, 60, ""};
    return {dns::LookupStatus::Ok, records, 60, ""};
  }

  std::map<std::string, std::vector<Entry>> zone_;
};

// Deviations from the suite that our layer cannot fix without patching libspf2, with why.
// None are left: every libspf2 deviation the suite shows is corrected in our layer (see
// spf_dns_layer.h, spf_record_syntax.h and spf_evaluator.cpp). A new one goes here with its cause.
const std::map<std::string, std::string> kKnownDeviations = {};

std::filesystem::path suitePath() {
  const char* env = std::getenv("MXGUARD_CONFORMANCE_DIR");
  return std::filesystem::path(env ? env : MXGUARD_CONFORMANCE_DIR) / "spf" / "rfc7208-tests.yml";
}

// The stage as a policy would configure it for the suite: check_host() of the MAIL FROM
// identity only (the suite does not test the separate HELO check), the driver's receiver name,
// and a fail reply that is the explanation, or "DEFAULT" when the domain published none.
StageSharedPtr spfStage(dns::ResolverSharedPtr resolver) {
  auto file = config::ConfigFile::parse(
      "[spf]\ncheck_helo = no\nreply_fail = 550 5.7.23 "
      "${spf_explanation}${spf_explanation:DEFAULT}\n",
      "suite.conf");
  const auto* factory = findStage("spf");
  StageContext context;
  context.resolver = std::move(resolver);
  context.ourHostname = "receiver";
  context.dnsTimeout = std::chrono::milliseconds(5000);
  return factory->create(file.section("spf", factory->options()), context);
}

TEST(SpfConformance, Rfc7208Suite) {
  auto path = suitePath();
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << "SKIPPED: RFC 7208 suite not found at " << path
                 << " (set MXGUARD_CONFORMANCE_DIR or -DMXGUARD_CONFORMANCE_DIR)";
  auto scenarios = YAML::LoadAllFromFile(path.string());
  int total = 0, passed = 0, preferred = 0;
  std::vector<std::string> failures, unexpected, notPreferred;
  for (const auto& scenario : scenarios) {
    auto resolver = std::make_shared<ZoneResolver>(scenario["zonedata"]);
    for (const auto& t : scenario["tests"]) {
      std::string name = t.first.as<std::string>();
      const auto& test = t.second;
      std::vector<std::string> accepted;
      if (test["result"].IsSequence())
        for (const auto& r : test["result"]) accepted.push_back(r.as<std::string>());
      else
        accepted.push_back(test["result"].as<std::string>());
      auto ip = IpAddress::parse(test["host"].as<std::string>());
      ASSERT_TRUE(ip) << name;
      // The driver's receiver and default explanation (see the suite's README).
      Connection tx;
      tx.client.clientIp = ip;
      tx.client.clientAddress = ip->toString();
      tx.client.helo = test["helo"].as<std::string>();
      tx.message.sender = test["mailfrom"] ? test["mailfrom"].as<std::string>() : "";
      auto d = spfStage(resolver)->onMail(tx);
      std::string got = d ? d->reason.substr(4) : "(no decision)";  // "spf.fail" -> "fail"
      std::string explanation = d && d->reply ? d->reply->text() : "DEFAULT";
      std::string problem = d ? d->detail : "";
      bool ok = std::find(accepted.begin(), accepted.end(), got) != accepted.end();
      if (ok && got == "fail" && test["explanation"])
        ok = explanation == test["explanation"].as<std::string>();
      ++total;
      std::string line = name + ": expected " + accepted.front() +
                         (accepted.size() > 1 ? " (or others)" : "") + ", got " + got +
                         (got == "fail" ? " exp=\"" + explanation + "\"" : "") + " [" + problem +
                         "]";
      if (ok) {
        ++passed;
        if (got == accepted.front())
          ++preferred;
        else
          notPreferred.push_back(line);
      } else {
        failures.push_back(line);
        if (!kKnownDeviations.count(name)) unexpected.push_back(line);
      }
    }
  }
  std::cout << "RFC 7208 SPF suite: " << passed << " of " << total << " pass (" << preferred
            << " with the preferred result); " << failures.size() << " fail, "
            << failures.size() - unexpected.size() << " of them known libspf2 deviations\n";
  for (const auto& n : notPreferred)
    std::cout << "  accepted, not the preferred result: " << n << "\n";
  for (const auto& f : failures)
    std::cout << "  FAIL " << f
              << (kKnownDeviations.count(f.substr(0, f.find(':')))
                      ? " -- known: " + kKnownDeviations.at(f.substr(0, f.find(':')))
                      : "")
              << "\n";
  EXPECT_EQ(total, 203);
  EXPECT_TRUE(unexpected.empty()) << unexpected.size() << " unexpected failures (listed above)";
}

}  // namespace
}  // namespace mxguard::stages
