// access_tables.cpp - map files as the Engine's AccessTables and RecipientSets.
// Must not: parse a value on the data plane: every distinct value is parsed once, at load.
#include "app/access_tables.h"

#include <filesystem>

#include "base/strings.h"
#include "config/config_error.h"

namespace mxguard::app {
namespace {

std::string located(const maps::Map& map, const maps::MapEntry& e) {
  return map.file() + ":" + std::to_string(e.line) + ": " + std::string(e.key);
}

class MapAccessTable final : public AccessTable {
 public:
  MapAccessTable(std::shared_ptr<const maps::Map> map, std::vector<AccessRule> rules)
      : map_(std::move(map)), rules_(std::move(rules)) {}

  std::optional<AccessHit> find(std::string_view subject) const override {
    return hit(map_->find(subject));
  }
  std::optional<AccessHit> findAddress(const IpAddress& address) const override {
    return hit(map_->findAddress(address));
  }

 private:
  std::optional<AccessHit> hit(const std::optional<maps::MapEntry>& e) const {
    if (!e) return std::nullopt;
    return AccessHit{&rules_[e->valueIndex], located(*map_, *e)};
  }
  std::shared_ptr<const maps::Map> map_;
  std::vector<AccessRule> rules_;  // by the map's value index
};

class MapRecipientSet final : public RecipientSet {
 public:
  MapRecipientSet(std::shared_ptr<const maps::Map> map, std::string at)
      : map_(std::move(map)), at_(std::move(at)) {}
  std::optional<std::string> match(std::string_view recipient) const override {
    auto e = map_->find(recipient);
    if (!e) return std::nullopt;
    return at_.empty() ? located(*map_, *e) : at_ + ": " + std::string(e->key);
  }

 private:
  std::shared_ptr<const maps::Map> map_;
  std::string at_;
};

struct Slot {
  const char* option;
  std::vector<maps::MapKind> kinds;
  const char* doc;
};

const std::vector<Slot>& slots() {
  using K = maps::MapKind;
  static const std::vector<Slot> s = {
      {"clients",
       {K::Cidr, K::Hostname, K::Domain, K::Regexp},
       "maps for the client: cidr: its address; hostname:, domain:, regexp: its verified name"},
      {"helo", {K::Hostname, K::Domain, K::Regexp}, "maps for the HELO name"},
      {"senders",
       {K::Address, K::Domain, K::Regexp},
       "maps for the sender address (the null sender is looked up as <>)"},
      {"recipients", {K::Address, K::Domain, K::Regexp}, "maps for each recipient address"},
  };
  return s;
}

AccessSubject subjectOf(const std::string& option, maps::MapKind kind) {
  if (option == "clients")
    return kind == maps::MapKind::Cidr ? AccessSubject::ClientAddress : AccessSubject::ClientName;
  if (option == "helo") return AccessSubject::Helo;
  if (option == "senders") return AccessSubject::Sender;
  return AccessSubject::Recipient;
}

std::string kindNames(const std::vector<maps::MapKind>& kinds) {
  std::string out;
  for (auto k : kinds) out += (out.empty() ? "" : ", ") + std::string(maps::toString(k)) + ":";
  return out;
}

}  // namespace

std::vector<config::OptionSpec> accessSpecs() {
  std::vector<config::OptionSpec> specs;
  for (const auto& slot : slots())
    specs.push_back({slot.option, config::OptionKind::List, "", false, 0, 0,
                     std::string(slot.doc) + " (" + kindNames(slot.kinds) + "PATH)"});
  return specs;
}

std::shared_ptr<const maps::Map> loadMapReference(const config::Section& section,
                                                  const std::string& option,
                                                  const std::string& reference,
                                                  const std::vector<maps::MapKind>& allowed) {
  size_t colon = reference.find(':');
  auto kind =
      colon == std::string::npos ? std::nullopt : maps::parseMapKind(reference.substr(0, colon));
  bool fits = kind && std::find(allowed.begin(), allowed.end(), *kind) != allowed.end();
  if (!fits)
    section.fail(option, "'" + sanitize(reference) +
                             "' is not KIND:PATH with a kind this option takes (" +
                             kindNames(allowed) + ")");
  std::filesystem::path path(reference.substr(colon + 1));
  if (path.empty()) section.fail(option, "'" + sanitize(reference) + "' names no file");
  if (path.is_relative()) path = std::filesystem::path(section.file()).parent_path() / path;
  return maps::Map::load(*kind, path.lexically_normal().string());
}

std::vector<AccessCheck> loadAccess(const config::ConfigFile& file,
                                    const SkipNameCheck& checkSkip) {
  std::vector<AccessCheck> checks;
  config::Section section = file.section("access", accessSpecs());
  for (const auto& slot : slots()) {
    for (const auto& reference : section.getList(slot.option)) {
      auto map = loadMapReference(section, slot.option, reference, slot.kinds);
      AccessSubject subject = subjectOf(slot.option, map->kind());
      std::vector<AccessRule> rules;
      rules.reserve(map->valueCount());
      for (uint32_t i = 0; i < map->valueCount(); ++i) {
        std::string error;
        auto rule = parseAccessRule(map->valueText(i), subject, checkSkip, &error);
        if (!rule) throw config::ConfigError(map->file(), map->valueLine(i), "", error);
        rules.push_back(std::move(*rule));
      }
      checks.push_back({subject, std::make_shared<MapAccessTable>(map, std::move(rules))});
    }
  }
  return checks;
}

std::shared_ptr<const RecipientSet> recipientSet(std::shared_ptr<const maps::Map> map,
                                                 std::string at) {
  return std::make_shared<MapRecipientSet>(std::move(map), std::move(at));
}

}  // namespace mxguard::app
