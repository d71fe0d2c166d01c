// option_schema_test.cpp - the schema is the one source: the shipped files' commented-out options
// show its defaults, man/mxguard-policy.5 is its rendering, the daemon's built-in values are its
// defaults, and every option says what it does.
#include "app/option_schema.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "app/daemon_options.h"
#include "config/value_parsers.h"

namespace mxguard::app {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const config::OptionSpec* findOption(const std::vector<config::SchemaSection>& schema,
                                     const std::string& section, const std::string& option) {
  for (const auto& s : schema)
    if (s.name == section)
      for (const auto& spec : s.options)
        if (spec.name == option) return &spec;
  return nullptr;
}

// A list is the same list however its words are separated.
std::string canonical(const config::OptionSpec& spec, const std::string& value) {
  if (spec.kind != config::OptionKind::List) return value;
  std::string out;
  for (const auto& word : config::splitList(value)) out += word + " ";
  return out;
}

// What a shipped file says must be so. In a section in use, a "# option = value" line shows the
// default (an option whose default is empty may show an example instead: there is nothing to
// contradict), and an "option = value" line names an option of its section. A commented-out
// section ("# [greylist]") is a block ready to enable: its "# option = value" lines are settings,
// which must be options of that section with values of their kind.
std::vector<std::string> disagreements(const std::string& path,
                                       const std::vector<config::SchemaSection>& schema) {
  static const std::regex section(R"(^(# ?)?\[([a-z_ ]+)\]\s*$)");
  static const std::regex commented(R"(^# ?([a-z_0-9]+) =\s?(.*)$)");
  static const std::regex set(R"(^([a-z_0-9]+) =\s?(.*)$)");
  std::string file = path.substr(path.rfind('/') + 1);
  std::vector<std::string> out;
  std::istringstream in(readFile(path));
  std::string line, current, block;  // block: a commented-out section's settings, uncommented
  bool commentedOut = false;
  int number = 0;
  auto checkBlock = [&] {
    if (!commentedOut || block.empty()) return;
    try {
      for (const auto& s : schema)
        if (s.name == current) config::ConfigFile::parse(block, file).section(current, s.options);
    } catch (const config::ConfigError& e) {
      out.push_back(std::string("in the commented-out [") + current + "]: " + e.what());
    }
    block.clear();
  };
  std::smatch m;
  while (std::getline(in, line)) {
    ++number;
    std::string where = file + ":" + std::to_string(number) + ": ";
    if (std::regex_match(line, m, section)) {
      checkBlock();
      commentedOut = m[1].matched;
      current = m[2];
      if (commentedOut) block = "[" + current + "]\n" + std::string(number - 1, '\n');
      continue;
    }
    if (current.rfind("class ", 0) == 0) continue;  // a class's lines are stage.check names
    if (std::regex_match(line, m, commented)) {
      const auto* spec = findOption(schema, current, m[1]);
      if (commentedOut) {
        if (!spec) continue;  // prose that happens to contain " = "
        block += std::string(m[1]) + " = " + std::string(m[2]) + "\n";
      } else if (spec && !spec->defaultValue.empty() &&
                 canonical(*spec, m[2]) != canonical(*spec, spec->defaultValue)) {
        out.push_back(where + "[" + current + "] " + spec->name + ": the comment shows '" +
                      std::string(m[2]) + "', the default is '" + spec->defaultValue + "'");
      }
    } else if (std::regex_match(line, m, set)) {
      if (!findOption(schema, current, m[1]))
        out.push_back(where + "[" + current + "] " + std::string(m[1]) + " is no option");
    }
    if (commentedOut) block += "\n";
  }
  checkBlock();
  return out;
}

TEST(OptionSchema, ShippedPoliciesCommentTheDefaults) {
  for (const char* name : {"default", "strict"}) {
    auto found = disagreements(std::string(MXGUARD_SOURCE_DIR) + "/policies/" + name + ".conf",
                               policySchema());
    EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
  }
}

TEST(OptionSchema, ShippedDaemonConfigurationCommentsTheDefaults) {
  auto found =
      disagreements(std::string(MXGUARD_SOURCE_DIR) + "/config/mxguard.conf", daemonConfigSchema());
  EXPECT_TRUE(found.empty()) << ::testing::PrintToString(found);
}

TEST(OptionSchema, TheCheckCatchesAWrongComment) {
  std::string path = ::testing::TempDir() + "/option_schema_wrong.conf";
  std::ofstream(path) << "[helo]\n# non_fqdn = reject\nnon_fqdn = warn\n# invalid = reject\n"
                         "# helo_name = an example\n[dns]\nno_such_option = 1\n"
                         "# [greylist]\n# A comment = prose.\n# delay = 5 minutes\n";
  auto found = disagreements(path, policySchema());
  EXPECT_EQ(found, (std::vector<std::string>{
                       "option_schema_wrong.conf:2: [helo] non_fqdn: the comment shows 'reject', "
                       "the default is 'warn'",
                       "option_schema_wrong.conf:7: [dns] no_such_option is no option",
                       "in the commented-out [greylist]: option_schema_wrong.conf:10: "
                       "greylist.delay: invalid duration '5 minutes' (use e.g. 500ms, 5s, 2m)"}));
  unlink(path.c_str());
}

TEST(OptionSchema, ManPageIsTheSchemaRendered) {
  // To refresh it: build/mxguard --dump-config --defaults --man > man/mxguard-policy.5
  EXPECT_EQ(readFile(std::string(MXGUARD_SOURCE_DIR) + "/man/mxguard-policy.5"), policyManPage());
}

TEST(OptionSchema, EveryOptionSaysWhatItDoes) {
  for (const auto& schema : {daemonConfigSchema(), policySchema()})
    for (const auto& section : schema) {
      EXPECT_FALSE(section.about.empty()) << "[" << section.name << "]";
      for (const auto& spec : section.options)
        EXPECT_FALSE(spec.doc.empty()) << "[" << section.name << "] " << spec.name;
    }
}

// The daemon's settings before any file is read are the schema's defaults.
TEST(OptionSchema, DaemonBuiltInsAreTheSchemaDefaults) {
  std::string path = ::testing::TempDir() + "/option_schema_empty.conf";
  std::ofstream(path) << "# nothing set\n";
  chmod(path.c_str(), 0600);
  DaemonOptions fromFile;
  applyDaemonConfigFile(path, fromFile);
  unlink(path.c_str());
  DaemonOptions builtIn;
  EXPECT_EQ(fromFile.socket, builtIn.socket);
  EXPECT_EQ(fromFile.policyFile, builtIn.policyFile);
  EXPECT_EQ(fromFile.user, builtIn.user);
  EXPECT_EQ(fromFile.allowRoot, builtIn.allowRoot);
  EXPECT_EQ(fromFile.socketMode, builtIn.socketMode);
  EXPECT_EQ(fromFile.pidfile, builtIn.pidfile);
  EXPECT_EQ(fromFile.milterTimeoutSeconds, builtIn.milterTimeoutSeconds);
  EXPECT_EQ(fromFile.maxConnections, builtIn.maxConnections);
  EXPECT_EQ(fromFile.dns.forward, builtIn.dns.forward);
  EXPECT_EQ(fromFile.dns.forwardPrivateReverse, builtIn.dns.forwardPrivateReverse);
  EXPECT_EQ(fromFile.dns.cacheEntries, builtIn.dns.cacheEntries);
  EXPECT_EQ(fromFile.dns.cacheMegabytes, builtIn.dns.cacheMegabytes);
  EXPECT_EQ(fromFile.store.backend, builtIn.store.backend);
  EXPECT_EQ(fromFile.store.maxEntries, builtIn.store.maxEntries);
  EXPECT_EQ(fromFile.store.redisHost, builtIn.store.redisHost);
  EXPECT_EQ(fromFile.store.redisPort, builtIn.store.redisPort);
  EXPECT_EQ(fromFile.store.redisDatabase, builtIn.store.redisDatabase);
  EXPECT_EQ(fromFile.store.timeoutMs, builtIn.store.timeoutMs);
  EXPECT_EQ(fromFile.store.poolSize, builtIn.store.poolSize);
  EXPECT_EQ(fromFile.metrics.listen, builtIn.metrics.listen);
  EXPECT_EQ(fromFile.record.file, builtIn.record.file);
  EXPECT_EQ(fromFile.record.headers, builtIn.record.headers);
}

}  // namespace
}  // namespace mxguard::app
