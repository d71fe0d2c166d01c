// option_reference.h - what a list of option specs says, written out three ways: every option
// with its default (`mxguard --dump-config --defaults`, like `postconf -d`), the options a file
// sets (`mxguard --dump-config`, like `postconf -n`), and a man page reference (mxguard-policy(5)).
// Must not: know any option by name; app/option_schema.cpp gathers the specs.
#pragma once

#include <string>
#include <vector>

#include "config/config_file.h"

namespace mxguard::config {

// One [section] of a configuration file and the options it takes.
struct SchemaSection {
  std::string name;   // "" = the options before any [section]
  std::string about;  // one line: what the section is for
  std::vector<OptionSpec> options;
};

// "yes | no", "integer 1..10", "duration 100ms..2m", "list", "reject | warn | off", "text".
std::string describeValue(const OptionSpec& spec);

// Every section with `name = default`, one option a line (repeated options with no default are
// written "name =" like the others).
std::string renderDefaults(const std::vector<SchemaSection>& schema);

// The options `file` sets, in the schema's order (repeated ones every time, in file order), each
// section that sets any under its header; sections the schema does not name (a policy's
// [class NAME]) as written, in file order.
std::string renderWritten(const ConfigFile& file, const std::vector<SchemaSection>& schema);

// roff for a man page: a .SS per section and a .TP per option (name, value, default, doc line).
std::string renderManSections(const std::vector<SchemaSection>& schema);

}  // namespace mxguard::config
