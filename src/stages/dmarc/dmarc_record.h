// dmarc_record.h - a DMARC policy record (RFC 7489 6.3): picking the records out of a TXT answer
// (6.6.3 steps 2 and 4) and parsing one with libopendmarc, with the RFC's tolerance on top: an
// invalid optional tag falls back to its default, an invalid or missing p= becomes p=none when
// a report address is given (6.6.3 step 6), and each such repair is noted.
// Must not: look anything up, or decide what a message gets (dmarc_evaluation does).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mxguard::stages {

struct DmarcRecord {
  std::string p;   // "none" | "quarantine" | "reject"
  std::string sp;  // the same words; empty when the record has no (valid) sp=
  char adkim = 'r', aspf = 'r';
  int pct = 100;
  std::string fo = "0";
  std::vector<std::string> rua;
  std::vector<std::string> notes;  // repairs: "pct=150 ignored (not 0-100)"
};

struct DmarcRecordParse {
  std::optional<DmarcRecord> record;
  std::string problem;  // why there is no record: "no valid p= tag and no rua= to report to"
};

// The TXT records of `txt` that begin with "v=DMARC1" (6.6.3: others are discarded).
std::vector<std::string> dmarcRecordsOf(const std::vector<std::string>& txt);

DmarcRecordParse parseDmarcRecord(std::string_view text);

// parseDmarcRecord remembered by the record's text: the same few records come back all day, and
// a parse through libopendmarc costs more than the rest of the stage. Thread-safe; bounded
// (emptied when it reaches kSize).
class DmarcRecordCache {
 public:
  std::shared_ptr<const DmarcRecordParse> parse(const std::string& text) const;

 private:
  static constexpr size_t kSize = 4096;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const DmarcRecordParse>> memo_;
};

}  // namespace mxguard::stages
