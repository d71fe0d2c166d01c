// organizational_domain.cpp - libpsl's registrable domain over the whole list (ICANN and private
// sections alike, so two users of a hosting suffix such as github.io never align).
// Must not: hold its lock while libpsl runs (a slow name must not stall the other threads).
#include "stages/organizational_domain.h"

#include <libpsl.h>

#include <stdexcept>

namespace mxguard::stages {

std::shared_ptr<const PublicSuffixList> PublicSuffixList::load(const std::string& path) {
  std::shared_ptr<PublicSuffixList> list(new PublicSuffixList());
  list->psl_ = psl_load_file(path.c_str());
  // A DAFSA file does not tell its count (-1); a text file with no rule is not a list.
  if (!list->psl_ || psl_suffix_count(list->psl_) == 0)
    throw std::runtime_error("cannot read the public suffix list '" + path +
                             "' (Debian package publicsuffix: "
                             "/usr/share/publicsuffix/public_suffix_list.dafsa)");
  return list;
}

PublicSuffixList::~PublicSuffixList() {
  if (psl_) psl_free(psl_);
}

std::string PublicSuffixList::organizationalDomain(std::string_view domain) const {
  std::string name(domain);
  {
    std::lock_guard guard(mutex_);
    if (auto it = memo_.find(name); it != memo_.end()) return it->second;
  }
  const char* registrable = psl_registrable_domain(psl_, name.c_str());
  std::string org = registrable ? std::string(registrable) : name;
  std::lock_guard guard(mutex_);
  if (memo_.size() >= kMemoSize) memo_.clear();
  memo_.emplace(std::move(name), org);
  return org;
}

bool PublicSuffixList::sameOrganization(std::string_view a, std::string_view b) const {
  if (a == b) return true;
  return organizationalDomain(a) == organizationalDomain(b);
}

}  // namespace mxguard::stages
