// transaction_log.h - the JSON-lines file of recorded transactions: the daemon's recorder
// (appends one object per finished transaction) and the reader `mxguard-check --replay` uses.
// Must not: record message bodies, or lose a line to a concurrent writer (one write() per line,
// O_APPEND).
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "core/transaction_record.h"

namespace mxguard::app {

class JsonLinesRecorder : public TransactionRecorder {
 public:
  // Throws config::ConfigError (naming `option`) when the file cannot be opened for appending.
  JsonLinesRecorder(const std::string& path, bool headers, const std::string& configFile);
  ~JsonLinesRecorder() override;
  bool wantsHeaders() const override { return headers_; }
  void record(const TransactionRecord& r) override;

 private:
  std::string path_;
  bool headers_;
  int fd_ = -1;
  std::mutex mutex_;
  bool failedOnce_ = false;
};

std::string toJsonLine(const TransactionRecord& r);  // one line, no newline

// Reads every line of `path`; a line that is not a record is an error "FILE:LINE: why" in
// *errors (and skipped), so one bad line does not spoil a replay of 10,000.
std::vector<TransactionRecord> readTransactionLog(const std::string& path,
                                                  std::vector<std::string>* errors);

}  // namespace mxguard::app
