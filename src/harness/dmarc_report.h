// dmarc_report.h - RFC 7489 aggregate reports (section 7.2, the schema of appendix C) from the
// transaction record: one XML document per policy domain, identical rows counted once.
// Must not: hold the recording in memory (records are added one at a time and only the distinct
// rows are kept), or let a byte from the wire break the XML (every text is escaped).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dmarc_facts.h"
#include "core/message_record.h"

namespace mxguard::harness {

struct DmarcReportOptions {
  std::string orgName, email, extraContactInfo;  // report_metadata; extra_contact_info if set
  // "YYYY-MM-DD": only that UTC day's records count, and date_range is the whole day.
  std::string day;
};

struct DmarcReport {
  std::string policyDomain;
  int64_t begin = 0, end = 0;  // date_range, seconds since the epoch
  std::string xml;
};

// What add() did with a record.
enum class DmarcRecordUse {
  Counted,
  NoPolicy,  // no dmarc facts, or a result other than pass/fail (no published policy)
  OtherDay,  // outside DmarcReportOptions::day
  BadTime,   // "time" is not RFC 3339 UTC ("2026-12-06T21:50:00Z"): it cannot be placed
};

class DmarcReportBuilder {
 public:
  // Throws std::invalid_argument when options.day is set but not a valid YYYY-MM-DD.
  explicit DmarcReportBuilder(DmarcReportOptions options);
  DmarcRecordUse add(const MessageRecord& r);
  // One per policy domain, in domain order; rows in a fixed order, so equal input gives equal
  // bytes.
  std::vector<DmarcReport> reports() const;

 private:
  // Everything a report row is grouped by (appendix C RecordType), already in the report's
  // words; the auth results sorted, so they compare as sets.
  struct RowKey {
    std::string sourceIp, disposition, dkim, spf, envelopeFrom, headerFrom;
    std::vector<std::pair<std::string, std::string>> reasons;  // type, comment
    std::vector<std::array<std::string, 3>> dkimAuth;          // domain, selector, result
    std::vector<std::array<std::string, 3>> spfAuth;           // domain, scope, result
    auto operator<=>(const RowKey&) const = default;
  };
  struct Domain {
    DmarcFacts policy;  // of the latest record
    int64_t policyTime = 0, first = 0, last = 0;
    std::map<RowKey, size_t> rows;
  };
  static RowKey rowKey(const MessageRecord& r);
  static void writeRecord(std::string& x, const RowKey& k, size_t count);
  std::string document(const std::string& domain, const Domain& d, int64_t begin,
                       int64_t end) const;

  DmarcReportOptions options_;
  std::optional<int64_t> dayBegin_;
  std::map<std::string, Domain> domains_;
};

// "2026-12-06T21:50:00Z" (what the recorder writes) -> seconds since the epoch.
std::optional<int64_t> parseUtcTime(std::string_view text);
// "2026-12-06" -> that day's 00:00:00 UTC.
std::optional<int64_t> parseUtcDay(std::string_view text);
// XML character data: & < > " ' escaped; control bytes, invalid UTF-8 and code points XML 1.0
// does not allow are dropped.
std::string xmlText(std::string_view text);
// RFC 7489 7.2.1.1: receiver "!" policy-domain "!" begin "!" end ".xml"; bytes that have no
// place in a file name (a '/' from a hostile record) become '_'.
std::string dmarcReportFileName(std::string_view receiverDomain, const DmarcReport& report);

}  // namespace mxguard::harness
