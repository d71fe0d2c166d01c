// organizational_domain.h - RFC 7489 3.2's organisational domain (the public suffix plus one
// label) from the Public Suffix List of Debian's publicsuffix package, read with libpsl.
// Must not: reach the network (the list is a file; libpsl's built-in copy is not used, so what
// is applied is what the admin's package holds).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

struct psl_ctx_st;  // libpsl.h: typedef struct psl_ctx_st psl_ctx_t

namespace mxguard::stages {

class PublicSuffixList {
 public:
  // Throws std::runtime_error naming the file when it cannot be read.
  static std::shared_ptr<const PublicSuffixList> load(const std::string& path);
  ~PublicSuffixList();
  PublicSuffixList(const PublicSuffixList&) = delete;
  PublicSuffixList& operator=(const PublicSuffixList&) = delete;

  // "mail.example.co.uk" -> "example.co.uk"; a public suffix itself ("co.uk") is its own
  // organisational domain. Expects a lowercase name without a trailing dot.
  std::string organizationalDomain(std::string_view domain) const;
  // Relaxed alignment (RFC 7489 3.1): the same organisational domain.
  bool sameOrganization(std::string_view a, std::string_view b) const;

 private:
  PublicSuffixList() = default;
  psl_ctx_st* psl_ = nullptr;
  // libpsl's lookup costs about 8,000 instructions (measured with bench/callgrind.sh); the same
  // few sender domains come back all day. Bounded: emptied when it reaches kMemoSize.
  static constexpr size_t kMemoSize = 4096;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::string> memo_;
};

}  // namespace mxguard::stages
