// config_file.cpp - INI files through Boost.Program_options, with our own line index (Boost's
// parser reports neither line numbers nor which file) and typed validation per section.
// Must not: accept a line it cannot explain (every syntax problem is an error naming its line), or
// read a file that others can change, that is not a regular file, or that is over 1 MiB.
#include "config/config_file.h"

#include <boost/program_options.hpp>
#include <cctype>
#include <set>
#include <sstream>
#include <stdexcept>

#include "base/strings.h"
#include "config/protected_file.h"
#include "config/value_parsers.h"

namespace po = boost::program_options;

namespace mxguard::config {

ConfigError::ConfigError(std::string f, int l, std::string o, std::string m)
    : std::runtime_error(f + (l > 0 ? ":" + std::to_string(l) : std::string()) + ": " +
                         (o.empty() ? std::string() : o + ": ") + m),
      file(std::move(f)),
      line(l),
      option(std::move(o)),
      message(std::move(m)) {}

namespace {

std::string qualified(const std::string& section, const std::string& name) {
  return section.empty() ? name : section + "." + name;
}

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 80))
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  if (s.size() > 80) out += "...";
  return out;
}

}  // namespace

// ---- Section ---------------------------------------------------------------------------------

Section::Section(std::string name, std::string file, int line, std::vector<OptionSpec> specs,
                 std::multimap<std::string, Value> values)
    : name_(std::move(name)),
      file_(std::move(file)),
      line_(line),
      specs_(std::move(specs)),
      values_(std::move(values)) {}

const OptionSpec& Section::spec(std::string_view option) const {
  for (const auto& s : specs_)
    if (s.name == option) return s;
  throw std::logic_error("option '" + std::string(option) + "' is not declared in [" + name_ + "]");
}

bool Section::has(std::string_view option) const {
  return find(option) != nullptr;
}

const Value* Section::find(std::string_view option) const {
  auto [b, e] = values_.equal_range(std::string(option));
  const Value* last = nullptr;
  for (auto it = b; it != e; ++it) last = &it->second;
  return last;
}

void Section::fail(std::string_view option, const std::string& message) const {
  const Value* v = find(option);
  throw ConfigError(v ? v->file : file_, v ? v->line : line_, qualified(name_, std::string(option)),
                    message);
}

void Section::fail(const Value& at, std::string_view option, const std::string& message) const {
  throw ConfigError(at.file, at.line, qualified(name_, std::string(option)), message);
}

namespace {
// The option's text: its last occurrence, or the spec default.
std::string textOf(const Section& s, const OptionSpec& spec, std::string_view option) {
  const Value* v = s.find(option);
  return v ? v->text : spec.defaultValue;
}

// The option's value by `parse`: a bad value is a config error at its line, a bad default a bug.
template <class T>
T parsed(const Section& s, const OptionSpec& spec, std::string_view option,
         std::optional<T> (*parse)(std::string_view, std::string*)) {
  std::string error;
  std::optional<T> v = parse(textOf(s, spec, option), &error);
  if (!v) {
    if (!s.find(option)) throw std::logic_error("bad default for " + std::string(option));
    s.fail(option, error);
  }
  return *v;
}
}  // namespace

std::string Section::getString(std::string_view option) const {
  return textOf(*this, spec(option), option);
}

bool Section::getBool(std::string_view option) const {
  return parsed(*this, spec(option), option, parseBool);
}

long Section::getInt(std::string_view option) const {
  return parsed(*this, spec(option), option, parseInt);
}

std::chrono::milliseconds Section::getDuration(std::string_view option) const {
  return parsed(*this, spec(option), option, parseDuration);
}

std::vector<std::string> Section::getList(std::string_view option) const {
  return splitList(textOf(*this, spec(option), option));
}

std::vector<Value> Section::getAll(std::string_view option) const {
  spec(option);
  std::vector<Value> out;
  auto [b, e] = values_.equal_range(std::string(option));
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

// ---- ConfigFile ------------------------------------------------------------------------------

namespace {

// Far above any real policy (the shipped ones are ~30 KB), far below what hurts to read.
constexpr size_t kMaxFileBytes = size_t(1) << 20;

}  // namespace

ConfigFile ConfigFile::load(const std::string& path) {
  return parse(readProtectedFile(path, kMaxFileBytes, "a configuration file"), path);
}

namespace {

// Where pass 1 found an option.
struct Located {
  std::string section;
  std::string name;
  int line;
};

// Pass 2: Boost.Program_options parses the values; the nth option it returns is the nth we
// indexed, which gives it its line. The values, trimmed, in index order.
std::vector<std::string> parseValues(const std::string& normalised,
                                     const std::vector<Located>& index,
                                     const std::string& fileName) {
  std::istringstream stream(normalised);
  po::options_description none;
  po::parsed_options parsed(&none);
  try {
    parsed = po::parse_config_file(stream, none, true);
  } catch (const po::error& e) {
    throw ConfigError(fileName, 0, "", e.what());
  }
  if (parsed.options.size() != index.size())
    throw ConfigError(fileName, 0, "", "internal error: option count mismatch while parsing");
  std::vector<std::string> values;
  for (size_t i = 0; i < parsed.options.size(); ++i) {
    const auto& o = parsed.options[i];
    if (o.string_key != qualified(index[i].section, index[i].name))
      throw ConfigError(fileName, index[i].line, "", "cannot parse this line");
    values.push_back(o.value.empty() ? "" : trim(o.value.front()));
  }
  return values;
}

void checkOptionName(const std::string& name, const std::string& fileName, int lineNo) {
  if (name.empty()) throw ConfigError(fileName, lineNo, "", "option name missing before '='");
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.'))
      throw ConfigError(fileName, lineNo, "", "invalid option name '" + printable(name) + "'");
}

}  // namespace

ConfigFile ConfigFile::parse(std::string_view text, const std::string& fileName) {
  ConfigFile cf;
  cf.file_ = fileName;
  // Pass 1: our own scan, for line numbers and for syntax errors Boost would report without one.
  std::vector<Located> index;
  std::string section;
  std::string normalised;  // what Boost parses: the same lines, CR stripped
  int lineNo = 0;
  size_t pos = 0;
  auto addSection = [&](const std::string& name, int line) {
    if (!cf.sections_.count(name)) {
      cf.sections_[name].line = line;
      cf.order_.push_back(name);
    }
  };
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view raw =
        text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    ++lineNo;
    if (raw.find('\0') != std::string_view::npos)
      throw ConfigError(fileName, lineNo, "", "NUL byte in configuration line");
    std::string line(raw);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    normalised += line + "\n";
    // '#' starts a comment anywhere on a line (Boost.Program_options' rule).
    std::string content = trim(line.substr(0, line.find('#')));
    if (!content.empty()) {
      if (content.front() == '[') {
        if (content.back() != ']')
          throw ConfigError(fileName, lineNo, "",
                            "unterminated section header '" + printable(content) + "'");
        section = trim(content.substr(1, content.size() - 2));
        if (section.empty()) throw ConfigError(fileName, lineNo, "", "empty section name '[]'");
        addSection(section, lineNo);
      } else {
        size_t eq = content.find('=');
        if (eq == std::string::npos)
          throw ConfigError(
              fileName, lineNo, "",
              "expected 'name = value' or '[section]', got '" + printable(content) + "'");
        std::string name = trim(content.substr(0, eq));
        checkOptionName(name, fileName, lineNo);
        if (section.empty()) addSection("", lineNo);
        index.push_back({section, name, lineNo});
      }
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }

  std::vector<std::string> values = parseValues(normalised, index, fileName);
  for (size_t i = 0; i < index.size(); ++i)
    cf.sections_[index[i].section].values.emplace(index[i].name,
                                                  Value{values[i], fileName, index[i].line});
  return cf;
}

std::vector<std::string> ConfigFile::sectionNames() const {
  return order_;
}

int ConfigFile::sectionLine(std::string_view name) const {
  auto it = sections_.find(name);
  return it == sections_.end() ? 0 : it->second.line;
}

Section ConfigFile::section(std::string_view name, const std::vector<OptionSpec>& specs) const {
  std::string sectionName(name);
  auto it = sections_.find(name);
  if (it == sections_.end()) return Section(sectionName, file_, 0, specs, {});
  const RawSection& raw = it->second;
  std::map<std::string, int> firstLine;
  for (const auto& [option, value] : raw.values) {
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == option) spec = &s;
    if (!spec) {
      std::string known;
      for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
      throw ConfigError(value.file, value.line, qualified(sectionName, option),
                        "unknown option '" + option + "' in [" + sectionName +
                            "]; known options: " + (known.empty() ? "(none)" : known));
    }
    if (!spec->repeated) {
      auto [f, inserted] = firstLine.emplace(option, value.line);
      if (!inserted)
        throw ConfigError(value.file, value.line, qualified(sectionName, option),
                          "given twice (first at line " + std::to_string(f->second) + ")");
    }
    std::string error;
    bool okValue = true;
    switch (spec->kind) {
      case OptionKind::Bool:
        okValue = parseBool(value.text, &error).has_value();
        break;
      case OptionKind::Int: {
        auto v = parseInt(value.text, &error);
        okValue = v && checkBounds(*v, spec->min, spec->max, "", &error);
        break;
      }
      case OptionKind::Duration: {
        auto v = parseDuration(value.text, &error);
        okValue = v && checkBounds(v->count(), spec->min, spec->max, "ms", &error);
        break;
      }
      case OptionKind::String:
      case OptionKind::List:
        break;
    }
    if (!okValue) throw ConfigError(value.file, value.line, qualified(sectionName, option), error);
  }
  return Section(sectionName, file_, raw.line, specs, raw.values);
}

std::vector<std::pair<std::string, Value>> ConfigFile::options(std::string_view section) const {
  std::vector<std::pair<std::string, Value>> out;
  auto it = sections_.find(section);
  if (it == sections_.end()) return out;
  for (const auto& [name, value] : it->second.values) out.emplace_back(name, value);
  return out;
}

ConfigFile ConfigFile::withValue(std::string_view section, const std::string& option,
                                 const std::string& text) const {
  ConfigFile copy = *this;
  auto it = copy.sections_.find(section);
  if (it == copy.sections_.end()) {
    it = copy.sections_.emplace(std::string(section), RawSection{}).first;
    copy.order_.push_back(std::string(section));
  }
  auto& values = it->second.values;
  Value v{text, file_, it->second.line};
  if (auto found = values.find(option); found != values.end()) v.line = found->second.line;
  values.erase(option);
  values.emplace(option, v);
  return copy;
}

}  // namespace mxguard::config
