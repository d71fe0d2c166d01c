// function_stage.h - a Stage whose hooks call what the test wrote (std::function per hook), and
// a Clock the test sets: engine and front door tests script exactly what the stages report.
// Must not: be used by integration tests (they run the real stages).
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "base/clock.h"
#include "core/stage.h"

namespace mxguard::testing {

class FunctionStage : public Stage {
 public:
  explicit FunctionStage(std::string name = "scripted") : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  Findings onConnect(Connection& tx) const override { return call(connect, tx); }
  Findings onHelo(Connection& tx) const override { return call(helo, tx); }
  Findings onMail(Connection& tx) const override { return call(mail, tx); }
  Findings onRcpt(Connection& tx, const std::string& r) const override {
    return rcpt ? rcpt(tx, r) : Findings{};
  }
  Findings onHeader(Connection& tx, const Header& h) const override {
    return header ? header(tx, h) : Findings{};
  }
  Findings onBody(Connection& tx, std::string_view) const override { return call(body, tx); }
  Findings onEom(Connection& tx) const override { return call(eom, tx); }

  using Hook = std::function<Findings(Connection&)>;
  Hook connect, helo, mail, body, eom;
  std::function<Findings(Connection&, const std::string&)> rcpt;
  std::function<Findings(Connection&, const Header&)> header;

 private:
  static Findings call(const Hook& h, Connection& tx) { return h ? h(tx) : Findings{}; }
  std::string name_;
};

class FakeClock : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return steady; }
  std::chrono::system_clock::time_point wallNow() const override { return wall; }
  std::chrono::steady_clock::time_point steady{};
  std::chrono::system_clock::time_point wall{};
};

}  // namespace mxguard::testing
