// regexp_index.cpp - every pattern compiled twice: into the RE2::Set that answers lookups in one
// pass, and alone, which checks it with RE2's own error text and answers in file order should
// the set's DFA run out of memory (RE2::Set then reports failure, not "no match").
// Must not: report a lookup as a miss when RE2 could not finish it.
#include "maps/regexp_index.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <vector>

#include "config/config_error.h"
#include "maps/key_text.h"

namespace mxguard::maps {
namespace {

RE2::Options options(int64_t maxMem, bool caseless) {
  RE2::Options o;
  o.set_log_errors(false);  // errors are reported as ConfigErrors, not on stderr
  o.set_max_mem(maxMem);
  o.set_case_sensitive(!caseless);
  return o;
}

}  // namespace

struct RegexpIndex::Compiled {
  Compiled() : set(options(kSetMaxMem, false), RE2::UNANCHORED) {}
  RE2::Set set;
  std::vector<std::unique_ptr<RE2>> patterns;  // in file order
  size_t programBytes = 0;                     // an estimate: RE2 reports instructions only
};

RegexpIndex::RegexpIndex(const std::string& file)
    : file_(file), compiled_(std::make_unique<Compiled>()) {}

RegexpIndex::~RegexpIndex() = default;

void RegexpIndex::add(std::string_view key, uint32_t value, int line) {
  auto fail = [&](const std::string& why) { throw config::ConfigError(file_, line, "", why); };
  if (key.size() > KeyTable::kMaxKeyBytes)
    fail("pattern longer than " + std::to_string(KeyTable::kMaxKeyBytes) + " bytes");
  // The reader hands over "/pattern/flags" with the closing '/' found.
  size_t close = key.rfind('/');
  std::string_view pattern = key.substr(1, close - 1);
  std::string_view flags = key.substr(close + 1);
  bool caseless = false;
  for (char f : flags) {
    if (f != 'i')
      fail("unknown flag '" + std::string(1, f) + "' after '" + shownKey(key.substr(0, close + 1)) +
           "' (the one flag is i, case-insensitive)");
    if (caseless) fail("flag 'i' given twice in '" + shownKey(key) + "'");
    caseless = true;
  }
  if (int first = keys_.add(key, key, value, line); first != 0)
    fail("duplicate key '" + shownKey(key) + "' (first at line " + std::to_string(first) + ")");
  auto re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()),
                                  options(kPatternMaxMem, caseless));
  if (!re->ok()) fail("bad regular expression '" + shownKey(key) + "': " + re->error());
  std::string setPattern = caseless ? "(?i)" : "";
  setPattern.append(pattern);
  std::string error;
  if (compiled_->set.Add(setPattern, &error) < 0)
    fail("bad regular expression '" + shownKey(key) + "': " + error);
  compiled_->programBytes += static_cast<size_t>(re->ProgramSize() + re->ReverseProgramSize()) * 16;
  compiled_->patterns.push_back(std::move(re));
}

void RegexpIndex::finish() {
  if (keys_.size() != 0 && !compiled_->set.Compile())
    throw config::ConfigError(file_, 0, "",
                              "the patterns together need more than " +
                                  std::to_string(kSetMaxMem >> 20) +
                                  " MiB compiled; split them over several maps");
  keys_.shrink();
}

std::optional<IndexHit> RegexpIndex::find(std::string_view subject) const {
  if (keys_.size() == 0) return std::nullopt;
  re2::StringPiece text(subject.data(), subject.size());
  std::vector<int> matched;
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  size_t first = keys_.size();
  if (compiled_->set.Match(text, &matched, &info)) {
    first = static_cast<size_t>(*std::min_element(matched.begin(), matched.end()));
  } else if (info.kind != RE2::Set::kNoError) {
    // Each pattern alone can fall back to RE2's NFA, which needs no more memory.
    for (size_t i = 0; i < compiled_->patterns.size() && first == keys_.size(); ++i)
      if (RE2::PartialMatch(text, *compiled_->patterns[i])) first = i;
  }
  if (first == keys_.size()) return std::nullopt;
  const auto& r = keys_.record(first);
  return IndexHit{keys_.written(r), r.value, static_cast<int>(r.line)};
}

size_t RegexpIndex::memoryBytes() const {
  return keys_.memoryBytes() + compiled_->patterns.capacity() * sizeof(void*) +
         compiled_->patterns.size() * sizeof(RE2) + compiled_->programBytes * 2;
}

}  // namespace mxguard::maps
