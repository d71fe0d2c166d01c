// policy_loader.h - builds an immutable Policy from a policy file: the [engine] section, then
// each listed stage from the registry with its section, checked completely before use.
// Must not: return a half-built policy; any problem is a ConfigError naming file, line, option.
#pragma once

#include <string>
#include <string_view>

#include "config/config_file.h"
#include "core/policy.h"
#include "core/resolver.h"
#include "stages/registry.h"
#include "store/store.h"

namespace mxguard::app {

struct PolicyLoadOptions {
  dns::ResolverSharedPtr resolver;    // shared by all stages (and all reloads)
  store::StoreSharedPtr store;        // likewise
  std::string ourHostname;            // default for the forged-HELO check
  MessageRecorderSharedPtr recorder;  // [record]: kept across reloads; null = off
};

PolicySharedPtr loadPolicyFile(const std::string& path, const PolicyLoadOptions& options);

// The options of [engine], and of a stage's section (those every stage has, then its own); read
// through app/option_schema.h.
std::vector<config::OptionSpec> engineOptionSpecs();
std::vector<config::OptionSpec> stageOptionSpecs(const stages::StageFactory& factory);
PolicySharedPtr loadPolicyText(std::string_view text, const std::string& fileName,
                               const PolicyLoadOptions& options);

}  // namespace mxguard::app
