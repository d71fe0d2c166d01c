// transaction_log.cpp - nlohmann::json (Debian's nlohmann-json3-dev) both ways; invalid UTF-8
// from the wire is replaced, never a reason to drop the record.
// Must not: throw out of record(): a full disk must not fail mail (it is logged once).
#include "app/transaction_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "app/json_text.h"
#include "base/log.h"
#include "config/config_error.h"

namespace mxguard::app {

using nlohmann::json;

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
  return dumpJson(j);
}

JsonLinesRecorder::JsonLinesRecorder(const std::string& path, bool headers,
                                     const std::string& configFile)
    : path_(path), headers_(headers) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0)
    throw config::ConfigError(configFile, 0, "record.file",
                              "cannot open '" + path + "' for appending: " + std::strerror(errno));
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
