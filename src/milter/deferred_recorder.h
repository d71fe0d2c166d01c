// deferred_recorder.h - the [record] file as the policy sees it from the first load, opened only
// once privileges are dropped: a root-started daemon must not create or append to a file the
// service user could not (a link that user planted would otherwise aim root's writes).
// Must not: be opened after smfi_main has started (record() reads the file without a lock).
#pragma once

#include <memory>
#include <string>

#include "app/transaction_log.h"

namespace mxguard::milter {

class DeferredRecorder : public MessageRecorder {
 public:
  DeferredRecorder(std::string path, bool headers, std::string configFile)
      : path_(std::move(path)), headers_(headers), configFile_(std::move(configFile)) {}
  // Throws config::ConfigError as JsonLinesRecorder does (a link, not a file, no access).
  void open() { file_ = std::make_unique<app::JsonLinesRecorder>(path_, headers_, configFile_); }
  bool wantsHeaders() const override { return headers_; }
  void record(const MessageRecord& r) override {
    if (file_) file_->record(r);
  }

 private:
  std::string path_;
  bool headers_;
  std::string configFile_;
  std::unique_ptr<app::JsonLinesRecorder> file_;
};

}  // namespace mxguard::milter
