// reply_template.h - reply templates such as
//   "554 5.7.1 Service unavailable; Client host [${client_address}] blocked using
//   ${rbl_domain}${rbl_txt?; ${rbl_txt}}"
// parsed and checked once at load; rendered with sanitised values per transaction.
// Must not: accept a template whose variables the stage does not provide (checked at parse).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply.h"

namespace mxguard {

struct TemplateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using TemplateVars = std::map<std::string, std::string, std::less<>>;

class ReplyTemplate {
 public:
  // Syntax: "CODE X.Y.Z text". Text may use ${name}, ${name?text if name non-empty} and
  // ${name:text if name empty}; the conditional text may itself hold ${...}. Throws TemplateError
  // naming the problem (unknown variable, unbalanced brace, bad code, class mismatch).
  static ReplyTemplate parse(std::string_view source, const std::set<std::string>& allowedVars);

  // Substitutes sanitised values (missing ones are empty) and builds the Reply.
  Reply render(const TemplateVars& vars) const;
  // Whether the text refers to ${name} at all (so a stage can skip a lookup only it needs).
  bool uses(std::string_view name) const;
  int code() const { return code_; }
  const std::string& enhanced() const { return enhanced_; }
  const std::string& source() const { return source_; }

  struct Node;  // text, variable or conditional; defined in reply_template.cpp

 private:
  int code_ = 0;
  std::string enhanced_;
  std::string source_;
  std::shared_ptr<const std::vector<Node>> nodes_;
};

}  // namespace mxguard
