// access_tables.h - the [access] section of a policy: map files ("kind:path") consulted for the
// client, the HELO, the sender and each recipient, each entry's value parsed into an AccessRule;
// and map-backed recipient sets for policy classes.
// Must not: keep anything from an old policy: a reload loads every map again, and a broken map
// is refused with the policy (FILE:LINE: errors), so the old maps keep serving.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/access_rule.h"
#include "config/config_file.h"
#include "core/access.h"
#include "maps/map.h"

namespace mxguard::app {

// The options of [access], for the section's validation.
std::vector<config::OptionSpec> accessSpecs();

// Loads every map [access] names. A relative path is relative to the policy file's directory.
std::vector<AccessCheck> loadAccess(const config::ConfigFile& file, const SkipNameCheck& checkSkip);

// "kind:path" of a list option, loaded; `allowed` are the kinds the option takes. Throws
// ConfigError at the option's line for a bad kind, and the map's own FILE:LINE: errors.
std::shared_ptr<const maps::Map> loadMapReference(const config::Section& section,
                                                  const std::string& option,
                                                  const std::string& reference,
                                                  const std::vector<maps::MapKind>& allowed);

// A class's recipients from one map (values ignored).
// `at` ("policy.conf:9"): where an inline list was written, named instead of the map's own lines.
std::shared_ptr<const RecipientSet> recipientSet(std::shared_ptr<const maps::Map> map,
                                                 std::string at = "");

}  // namespace mxguard::app
