// option_schema.h - the one schema of every option mxguard reads: the daemon configuration
// (mxguard.conf: app/daemon_options.cpp's specs) and the policy ([engine], [access], and every
// stage of stages/registry.cpp with the options all stages share). Each option has its kind,
// default and doc line there and nowhere else; the built-in defaults are those defaults, and
// `mxguard --dump-config`, the mxguard-policy(5) page and the shipped-policy test read them here.
// Must not: hold a default or doc line of its own; it gathers the specs their readers declare.
#pragma once

#include <string>
#include <vector>

#include "config/option_reference.h"

namespace mxguard::app {

std::vector<config::SchemaSection> daemonConfigSchema();  // mxguard.conf
std::vector<config::SchemaSection> policySchema();        // the policy file

// `mxguard --dump-config --defaults`: both files with every option at its default.
std::string dumpDefaults();
// `mxguard --dump-config`: what the two files set, each under a comment naming it ("" = no
// mxguard.conf). Throws config::ConfigError like loading them does.
std::string dumpWritten(const std::string& configFile, const std::string& policyFile);

// The whole mxguard-policy(5) page, roff: every option of both files with its value, default and
// doc line (man/mxguard-policy.5 is this output; a test keeps the two equal).
std::string policyManPage();

}  // namespace mxguard::app
