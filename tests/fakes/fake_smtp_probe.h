// fake_smtp_probe.h - an SmtpProbe for unit tests: scripted results per server address, a count
// of probes made, an optional delay (to test single-flight) and an optional hook run inside each
// probe (to hold a probe in flight until the test releases it, or to make it throw).
// Must not: open sockets.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "smtp/smtp_probe.h"

namespace mxguard::testing {

class FakeSmtpProbe : public smtp::SmtpProbe {
 public:
  void script(const std::string& address, smtp::ProbeOutcome outcome, int code,
              std::vector<std::string> lines, std::string command = "RCPT TO",
              std::optional<bool> randomAccepted = std::nullopt) {
    std::lock_guard g(mutex_);
    smtp::ProbeResult r;
    r.outcome = outcome;
    r.command = command;
    r.reply.code = code;
    r.reply.lines = std::move(lines);
    r.randomAccepted = randomAccepted;
    if (outcome == smtp::ProbeOutcome::Unreachable) r.error = "connect timed out";
    results_[address] = r;
  }
  smtp::ProbeResult probe(const std::string& host, const std::string& address,
                          const std::string& recipient,
                          const smtp::ProbeOptions& options) const override {
    ++probes;
    if (onProbe) onProbe(address);
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    std::lock_guard g(mutex_);
    lastRandom = options.randomLocalPart;
    smtp::ProbeResult r;
    auto it = results_.find(address);
    if (it != results_.end())
      r = it->second;
    else
      r.error = "no script for " + address;
    r.host = host;
    r.address = address;
    r.transcript = {"connect " + host + "[" + address + "]:25", "> RCPT TO:<" + recipient + ">"};
    return r;
  }
  mutable std::atomic<int> probes{0};
  mutable std::string lastRandom;
  std::chrono::milliseconds delay{0};
  // Runs first in every probe with the server address; set before the probes start.
  std::function<void(const std::string& address)> onProbe;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, smtp::ProbeResult> results_;
};

}  // namespace mxguard::testing
