// config_file.h - INI-style configuration files ("[section]" and "name = value", '#' comments)
// read through Boost.Program_options, with every value remembering its file and line, and typed,
// validated access per section against declared option specs.
// Must not: know any stage or daemon option by name; callers declare their OptionSpecs.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.h"

namespace mxguard::config {

enum class OptionKind { String, Bool, Int, Duration, List };

struct OptionSpec {
  std::string name;  // "timeout" (within its section)
  OptionKind kind = OptionKind::String;
  std::string defaultValue;  // as it would be written in the file; "" = no default
  bool repeated = false;     // may appear several times (getAll)
  long min = 0;              // Int: bounds; Duration: bounds in milliseconds
  long max = 0;              // 0 = unbounded
  std::string doc;           // one line: mxguard-policy(5) and --dump-config show it
  bool check = false;        // a check's mode (reject | warn | off): a policy class may set it
};

struct Value {
  std::string text;
  std::string file;
  int line = 0;
};

// One section's options, validated against its specs (unknown options and bad values were
// rejected by ConfigFile::section). Getters return the default when the option is absent.
class Section {
 public:
  Section() = default;
  Section(std::string name, std::string file, int line, std::vector<OptionSpec> specs,
          std::multimap<std::string, Value> values);

  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }
  bool has(std::string_view option) const;
  const Value* find(std::string_view option) const;  // last occurrence, or nullptr

  std::string getString(std::string_view option) const;
  bool getBool(std::string_view option) const;  // yes/no, true/false, on/off, 1/0
  long getInt(std::string_view option) const;
  // "250ms", "5s", "2m", "1h", "7d"; a bare number means seconds.
  std::chrono::milliseconds getDuration(std::string_view option) const;
  // Whitespace- and/or comma-separated words.
  std::vector<std::string> getList(std::string_view option) const;
  // Every occurrence of a repeated option, in file order, with locations.
  std::vector<Value> getAll(std::string_view option) const;

  // Errors at the option's location (its last occurrence, else the section header line).
  [[noreturn]] void fail(std::string_view option, const std::string& message) const;
  [[noreturn]] void fail(const Value& at, std::string_view option,
                         const std::string& message) const;

 private:
  const OptionSpec& spec(std::string_view option) const;  // programming error if undeclared
  std::string name_;
  std::string file_;
  int line_ = 0;
  std::vector<OptionSpec> specs_;
  std::multimap<std::string, Value> values_;
};

class ConfigFile {
 public:
  // Throws ConfigError (file, line, option) on an unreadable file or a syntax error, and for a
  // file that group or others may write, that is not a regular file, or that is over 1 MiB.
  static ConfigFile load(const std::string& path);
  static ConfigFile parse(std::string_view text, const std::string& fileName);

  std::vector<std::string> sectionNames()
      const;                                     // in file order; "" = options before any [section]
  int sectionLine(std::string_view name) const;  // 0 if absent
  // Validates the section's options against specs: unknown option, non-repeated option given
  // twice, value not of its kind or out of bounds -> ConfigError naming file:line:section.option.
  // An absent section yields all defaults.
  Section section(std::string_view name, const std::vector<OptionSpec>& specs) const;
  const std::string& file() const { return file_; }
  // The options of a section as written, in no particular order (for sections whose option
  // names are not fixed, such as a policy class's "stage.check" lines).
  std::vector<std::pair<std::string, Value>> options(std::string_view section) const;
  // A copy with `option` of `section` set to `text` (every occurrence replaced), keeping the
  // location of the replaced value or, for a new one, of the section: how a policy builds a
  // stage with a check mode its classes need (Policy::judging).
  ConfigFile withValue(std::string_view section, const std::string& option,
                       const std::string& text) const;

 private:
  struct RawSection {
    int line = 0;
    std::multimap<std::string, Value> values;
  };
  std::string file_;
  std::vector<std::string> order_;
  std::map<std::string, RawSection, std::less<>> sections_;
};

}  // namespace mxguard::config
