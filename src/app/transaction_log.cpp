// transaction_log.cpp - nlohmann::json (Debian's nlohmann-json3-dev) both ways; invalid UTF-8
// from the wire is replaced, never a reason to drop the record.
// Must not: throw out of record(): a full disk must not fail mail (it is logged once).
#include "app/transaction_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "app/json_text.h"
#include "base/log.h"
#include "config/config_error.h"

namespace mxguard::app {

using nlohmann::json;

namespace {

// The "dmarc" object: DmarcFacts in snake_case, every key always written, so a reader can
// require them all and a truncated or hand-broken object is refused rather than half-read.
json dmarcToJson(const DmarcFacts& d) {
  json overrides = json::array(), dkim = json::array(), spf = json::array();
  for (const auto& o : d.overrides) overrides.push_back({{"type", o.type}, {"comment", o.comment}});
  for (const auto& a : d.dkim)
    dkim.push_back({{"domain", a.domain}, {"selector", a.selector}, {"result", a.result}});
  for (const auto& a : d.spf)
    spf.push_back({{"domain", a.domain}, {"scope", a.scope}, {"result", a.result}});
  return {{"header_from", d.headerFrom},
          {"envelope_from", d.envelopeFrom},
          {"result", d.result},
          {"policy_domain", d.policyDomain},
          {"policy_published",
           {{"adkim", d.adkim},
            {"aspf", d.aspf},
            {"p", d.p},
            {"sp", d.sp},
            {"pct", d.pct},
            {"fo", d.fo}}},
          {"disposition", d.disposition},
          {"dkim_aligned", d.dkimAligned},
          {"spf_aligned", d.spfAligned},
          {"overrides", overrides},
          {"dkim", dkim},
          {"spf", spf}};
}

// Throws (nlohmann's out_of_range / type_error) on a missing key or a wrong type.
DmarcFacts dmarcFromJson(const json& j) {
  auto text = [](const json& o, const char* key) { return o.at(key).get<std::string>(); };
  DmarcFacts d;
  d.headerFrom = text(j, "header_from");
  d.envelopeFrom = text(j, "envelope_from");
  d.result = text(j, "result");
  d.policyDomain = text(j, "policy_domain");
  const json& p = j.at("policy_published");
  d.adkim = text(p, "adkim");
  d.aspf = text(p, "aspf");
  d.p = text(p, "p");
  d.sp = text(p, "sp");
  d.pct = p.at("pct").get<int>();
  d.fo = text(p, "fo");
  d.disposition = text(j, "disposition");
  d.dkimAligned = text(j, "dkim_aligned");
  d.spfAligned = text(j, "spf_aligned");
  for (const auto& o : j.at("overrides"))
    d.overrides.push_back({text(o, "type"), text(o, "comment")});
  for (const auto& a : j.at("dkim"))
    d.dkim.push_back({text(a, "domain"), text(a, "selector"), text(a, "result")});
  for (const auto& a : j.at("spf"))
    d.spf.push_back({text(a, "domain"), text(a, "scope"), text(a, "result")});
  return d;
}

}  // namespace

std::string toJsonLine(const MessageRecord& r) {
  json j{{"time", r.time},
         {"queue_id", r.queueId},
         {"client_address", r.clientAddress},
         {"client_name", r.clientName},
         {"helo", r.heloSeen ? json(r.helo) : json(nullptr)},
         {"auth_user", r.authUser},
         {"sender", r.sender},
         {"recipients", r.recipients},
         {"action", r.action},
         {"reason", r.reason},
         {"reply", r.reply}};
  if (!r.headers.empty()) {
    json hs = json::array();
    for (const auto& h : r.headers) hs.push_back({h.name, h.value});
    j["headers"] = hs;
  }
  if (r.dmarc) j["dmarc"] = dmarcToJson(*r.dmarc);
  return dumpJson(j);
}

JsonLinesRecorder::JsonLinesRecorder(const std::string& path, bool headers,
                                     const std::string& configFile)
    : path_(path), headers_(headers) {
  // O_NOFOLLOW: a link planted in the service user's directory must not redirect our writes;
  // O_NONBLOCK: a FIFO must not hang the start before fstat refuses it.
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
               0640);
  if (fd_ < 0 && errno == ELOOP)
    throw config::ConfigError(configFile, 0, "record.file",
                              "'" + path + "' is a symbolic link; refusing to follow it");
  if (fd_ < 0)
    throw config::ConfigError(configFile, 0, "record.file",
                              "cannot open '" + path + "' for appending: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw config::ConfigError(configFile, 0, "record.file",
                              "'" + path + "' is not a regular file; refusing to write to it");
  }
  fcntl(fd_, F_SETFL, O_APPEND);  // back to blocking writes (O_NONBLOCK was for the open only)
}

JsonLinesRecorder::~JsonLinesRecorder() {
  if (fd_ >= 0) ::close(fd_);
}

void JsonLinesRecorder::record(const MessageRecord& r) {
  try {
    std::string line = toJsonLine(r) + "\n";
    std::lock_guard guard(mutex_);
    ssize_t n = ::write(fd_, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size()) && !failedOnce_) {
      failedOnce_ = true;
      logMessage(LogLevel::Error, "record: cannot write to " + path_ + ": " +
                                      (n < 0 ? std::strerror(errno) : "short write") +
                                      " (further failures are not logged)");
    }
  } catch (...) {
    // Recording is a convenience; mail goes on.
  }
}

size_t forEachTransaction(const std::string& path,
                          const std::function<void(const MessageRecord&)>& each,
                          const std::function<void(const std::string&)>& error) {
  std::ifstream in(path);
  if (!in) {
    error(path + ": cannot read the file");
    return 0;
  }
  size_t count = 0;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    MessageRecord r;
    try {
      json j = json::parse(line);
      r.time = j.value("time", "");
      r.queueId = j.value("queue_id", "");
      r.clientAddress = j.at("client_address").get<std::string>();
      r.clientName = j.value("client_name", "unknown");
      r.heloSeen = j.contains("helo") && !j["helo"].is_null();
      if (r.heloSeen) r.helo = j["helo"].get<std::string>();
      r.authUser = j.value("auth_user", "");
      r.sender = j.at("sender").get<std::string>();
      r.recipients = j.value("recipients", std::vector<std::string>{});
      r.action = j.value("action", "");
      r.reason = j.value("reason", "");
      r.reply = j.value("reply", "");
      if (j.contains("headers"))
        for (const auto& h : j["headers"])
          r.headers.push_back({h.at(0).get<std::string>(), h.at(1).get<std::string>(), " "});
      // null reads as absent, like "helo"; anything else must be a whole dmarc object.
      if (j.contains("dmarc") && !j["dmarc"].is_null()) {
        if (!j["dmarc"].is_object()) throw std::invalid_argument("\"dmarc\" is not an object");
        r.dmarc = dmarcFromJson(j["dmarc"]);
      }
    } catch (const std::exception& e) {
      error(path + ":" + std::to_string(n) + ": not a transaction record (" + e.what() + ")");
      continue;
    }
    ++count;
    each(r);
  }
  return count;
}

}  // namespace mxguard::app
