// transaction_log.h - the JSON-lines file of recorded transactions: the daemon's recorder
// (appends one object per finished transaction) and the reader `mxguard-check --replay` uses.
// Must not: record message bodies, or lose a line to a concurrent writer (one write() per line,
// O_APPEND).
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "core/message_record.h"

namespace mxguard::app {

class JsonLinesRecorder : public MessageRecorder {
 public:
  // Throws config::ConfigError (naming `option`) when the file cannot be opened for appending.
  JsonLinesRecorder(const std::string& path, bool headers, const std::string& configFile);
  ~JsonLinesRecorder() override;
  bool wantsHeaders() const override { return headers_; }
  void record(const MessageRecord& r) override;

 private:
  std::string path_;
  bool headers_;
  int fd_ = -1;
  std::mutex mutex_;
  bool failedOnce_ = false;
};

std::string toJsonLine(const MessageRecord& r);  // one line, no newline

// Streams `path` one line at a time (a replay of 1,000,000 records holds one): `each` gets every
// record, `error` every line that is not one ("FILE:LINE: why"; skipped, so one bad line does not
// spoil the rest). Returns the number of records.
size_t forEachTransaction(const std::string& path,
                          const std::function<void(const MessageRecord&)>& each,
                          const std::function<void(const std::string&)>& error);

}  // namespace mxguard::app
