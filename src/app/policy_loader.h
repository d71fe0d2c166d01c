// policy_loader.h - builds an immutable Policy from a policy file: the [engine] section, then
// each listed stage from the registry with its section, checked completely before use.
// Must not: return a half-built policy; any problem is a ConfigError naming file, line, option.
#pragma once

#include <string>
#include <string_view>

#include "core/policy.h"
#include "core/resolver.h"
#include "store/store.h"

namespace mxguard::app {

struct PolicyLoadOptions {
  dns::ResolverSharedPtr resolver;    // shared by all stages (and all reloads)
  store::StoreSharedPtr store;        // likewise
  std::string ourHostname;            // default for the forged-HELO check
  MessageRecorderSharedPtr recorder;  // [record]: kept across reloads; null = off
};

PolicySharedPtr loadPolicyFile(const std::string& path, const PolicyLoadOptions& options);
PolicySharedPtr loadPolicyText(std::string_view text, const std::string& fileName,
                               const PolicyLoadOptions& options);

}  // namespace mxguard::app
