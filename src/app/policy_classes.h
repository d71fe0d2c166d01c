// policy_classes.h - [class NAME] sections: the recipients a class names and how it judges them
// (check modes, a stage's mode and on_failure, skipped stages and checks), validated against the
// stages the policy lists; and the check modes the stages must be built with so that every class
// can judge the same findings (Policy::judging).
// Must not: let a class change what a stage looks up: findings are evaluated once for all classes.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_file.h"
#include "core/policy.h"

namespace mxguard::app {

// Every stage of the registry with its checks, and for the stages the policy lists, the mode
// the policy gives each check.
class StageCatalog {
 public:
  StageCatalog(const config::ConfigFile& file, const std::vector<std::string>& listed);
  bool known(std::string_view stage) const;
  bool listed(std::string_view stage) const;
  bool hasCheck(std::string_view stage, std::string_view check) const;
  CheckMode policyMode(std::string_view stageDotCheck) const;  // Off for an unlisted stage
  // What is wrong with a skip name ("spf", "helo.non_fqdn"), or nullopt when it names a stage
  // or a check.
  std::optional<std::string> skipProblem(std::string_view name) const;

 private:
  struct Entry {
    std::set<std::string, std::less<>> checks;
    bool listed = false;
  };
  std::map<std::string, Entry, std::less<>> stages_;
  std::map<std::string, CheckMode, std::less<>> policyModes_;  // "helo.non_fqdn" -> mode
};

// "class finance" -> "finance"; nullopt for other sections.
std::optional<std::string> className(std::string_view section);

std::vector<PolicyClass> loadClasses(const config::ConfigFile& file, const StageCatalog& catalog);

// The checks some class or access rule (skipNames: the stage.check names access rules skip)
// judges differently from the policy are built in warn mode, so a stage never stops early for a
// class that would not; the policy judges them with its own mode (returned), and `*file` gets
// the warn modes the stages are built with.
Judging judgingForClasses(const std::vector<PolicyClass>& classes,
                          const std::set<std::string>& skipNames, const StageCatalog& catalog,
                          config::ConfigFile* file);

// Policy::relaxable: what the classes skip or soften, and what access rules skip.
std::set<std::string, std::less<>> relaxableChecks(const std::vector<PolicyClass>& classes,
                                                   const std::set<std::string>& skipNames);

}  // namespace mxguard::app
