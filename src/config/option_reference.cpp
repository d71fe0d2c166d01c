// option_reference.cpp - option specs written out for people: postconf-style dumps and roff.
#include "config/option_reference.h"

#include <algorithm>
#include <map>

namespace mxguard::config {
namespace {

// 250 -> "250ms", 5000 -> "5s", 120000 -> "2m", 604800000 -> "7d": the largest unit that is exact,
// as a duration is written in a file.
std::string durationText(long ms) {
  struct Unit {
    long ms;
    const char* suffix;
  };
  static const Unit units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
  if (ms == 0) return "0";
  for (const auto& u : units)
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  return std::to_string(ms) + "ms";
}

std::string bounds(const OptionSpec& spec, std::string (*text)(long)) {
  if (spec.min == 0 && spec.max == 0) return "";
  if (spec.max == 0) return " " + text(spec.min) + " or more";
  return " " + text(spec.min) + ".." + text(spec.max);
}

std::string numberText(long n) {
  return std::to_string(n);
}

std::string line(const OptionSpec& spec, const std::string& value) {
  return spec.name + (value.empty() ? " =" : " = " + value) + "\n";
}

// roff: a backslash doubled, and a line that would start with . or ' escaped.
std::string roff(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

}  // namespace

std::string describeValue(const OptionSpec& spec) {
  if (spec.check) return "reject | warn | off";
  switch (spec.kind) {
    case OptionKind::Bool:
      return "yes | no";
    case OptionKind::Int:
      return "integer" + bounds(spec, &numberText);
    case OptionKind::Duration:
      return "duration" + bounds(spec, &durationText);
    case OptionKind::List:
      return spec.repeated ? "list, repeatable" : "list";
    case OptionKind::String:
      break;
  }
  return spec.repeated ? "text, repeatable" : "text";
}

std::string renderDefaults(const std::vector<SchemaSection>& schema) {
  std::string out;
  for (const auto& section : schema) {
    if (!section.name.empty()) out += (out.empty() ? "[" : "\n[") + section.name + "]\n";
    for (const auto& spec : section.options) out += line(spec, spec.defaultValue);
  }
  return out;
}

std::string renderWritten(const ConfigFile& file, const std::vector<SchemaSection>& schema) {
  std::map<std::string, const SchemaSection*, std::less<>> known;
  for (const auto& section : schema) known.emplace(section.name, &section);
  std::string out;
  for (const auto& name : file.sectionNames()) {
    auto written = file.options(name);
    std::stable_sort(written.begin(), written.end(),
                     [](const auto& a, const auto& b) { return a.second.line < b.second.line; });
    std::string body;
    auto it = known.find(name);
    if (it == known.end()) {
      for (const auto& [option, value] : written) body += option + " = " + value.text + "\n";
    } else {
      for (const auto& spec : it->second->options)
        for (const auto& [option, value] : written)
          if (option == spec.name) body += line(spec, value.text);
    }
    if (body.empty()) continue;
    if (!name.empty()) out += (out.empty() ? "[" : "\n[") + name + "]\n";
    out += body;
  }
  return out;
}

std::string renderManSections(const std::vector<SchemaSection>& schema) {
  std::string out;
  for (const auto& section : schema) {
    out += ".SS " +
           (section.name.empty() ? std::string("Options before any section")
                                 : "[" + section.name + "]") +
           "\n" + roff(section.about) + "\n";
    for (const auto& spec : section.options) {
      out += ".TP\n\\fB" + roff(spec.name) + "\\fR = \\fI" + roff(describeValue(spec)) + "\\fR\n";
      std::string doc = roff(spec.doc);
      out += doc + (doc.empty() || doc.back() == '.' ? "\n" : ".\n");
      out += "Default: " +
             (spec.defaultValue.empty() ? std::string("empty")
                                        : "\\fB" + roff(spec.defaultValue) + "\\fR") +
             ".\n";
    }
  }
  return out;
}

}  // namespace mxguard::config
