// behaviour_stage.cpp - each check compares one Engine counter with its limit; at MAIL the RSET
// check runs before the message check, an enforced refusal ends the stage, each check reported
// with its mode. Nothing is returned while every counter is within its limit, so a normal
// connection adds no trace entries (the stage runs at every HELO, MAIL and RCPT).
// Must not: ship a 5xx default for a limit: only a 421 makes Postfix close the session.
#include "stages/behaviour/behaviour_stage.h"

#include "base/strings.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"our_hostname",  "client_address", "client_name", "helo_name",
                                  "previous_helo", "sender",         "limit",       "count"};
constexpr size_t kShownHelo = 64;  // of a client's HELO quoted in a reply or trace
constexpr long kMaxLimit = 10000;  // beyond this a limit is a typo, not a policy

std::string shownHelo(const std::string& h) {
  return h.size() > kShownHelo ? h.substr(0, kShownHelo) + "..." : h;
}

config::OptionSpec limitSpec(const std::string& name, const std::string& def,
                             const std::string& doc) {
  return {name, config::OptionKind::Int, def, false, 1, kMaxLimit, doc};
}

}  // namespace

std::vector<config::OptionSpec> BehaviourStage::options() {
  std::vector<config::OptionSpec> s;
  // The limits close the session with 421 (RFC 5321 3.8): Postfix disconnects after a milter's
  // 421, where after a 550 the client may simply go on issuing commands. (The issue that asked for
  // this check proposed "550 5.7.1 Too many RSET commands (limit 20) - closing"; a 550 closes
  // nothing.) The 421 is also sent at once, never held to RCPT (session.cpp).
  const std::string closing = "; closing connection";
  declareCheck(s, "too_many_rsets", "reject",
               "421 4.7.0 ${our_hostname} Error: too many RSET commands from ${client_address} "
               "(limit ${limit})" +
                   closing,
               "more than max_rsets aborted transactions (RSET) in one connection, at MAIL FROM");
  s.push_back(limitSpec("max_rsets", "20", "too_many_rsets: aborted transactions allowed"));
  declareCheck(s, "too_many_rejected_recipients", "reject",
               "421 4.7.0 ${our_hostname} Error: too many rejected recipients from "
               "${client_address} (limit ${limit})" +
                   closing,
               "more than max_rejected_recipients recipients refused by our stages, at RCPT TO");
  s.push_back(limitSpec("max_rejected_recipients", "20",
                        "too_many_rejected_recipients: refused recipients allowed"));
  declareCheck(s, "helo_changed", "warn",
               "550 5.7.1 <${helo_name}>: Helo command rejected: HELO name changed within the "
               "session (was <${previous_helo}>)",
               "a HELO/EHLO name different from the earlier one in the same connection");
  declareCheck(s, "too_many_messages", "reject",
               "421 4.7.0 ${our_hostname} Error: too many messages in one connection from "
               "${client_address} (limit ${limit})" +
                   closing,
               "more than max_messages_per_connection MAIL FROM commands in one connection");
  s.push_back(limitSpec("max_messages_per_connection", "100",
                        "too_many_messages: messages (MAIL FROM) allowed per connection"));
  return s;
}

StageSharedPtr BehaviourStage::create(const config::Section& section, const StageContext& context) {
  auto b = std::make_shared<BehaviourStage>();
  b->ourHostname_ = context.ourHostname;
  b->tooManyRsets_ = parseCheck(section, "too_many_rsets", kVars);
  b->tooManyRejectedRecipients_ = parseCheck(section, "too_many_rejected_recipients", kVars);
  b->heloChanged_ = parseCheck(section, "helo_changed", kVars);
  b->tooManyMessages_ = parseCheck(section, "too_many_messages", kVars);
  // Bounds (1..kMaxLimit) were enforced when the section was read, with file:line:option.
  auto limit = [&](const char* option) { return static_cast<size_t>(section.getInt(option)); };
  b->maxRsets_ = limit("max_rsets");
  b->maxRejectedRecipients_ = limit("max_rejected_recipients");
  b->maxMessages_ = limit("max_messages_per_connection");
  return b;
}

TemplateVars BehaviourStage::varsFor(const Connection& tx, size_t limit, size_t count) const {
  const auto& c = tx.client;
  return {{"our_hostname", c.ourHostname.empty() ? ourHostname_ : c.ourHostname},
          {"client_address", c.clientAddress},
          {"client_name", c.clientName},
          {"helo_name", shownHelo(c.helo)},
          {"previous_helo", shownHelo(tx.counters.previousHelo)},
          {"sender", tx.message.sender},
          {"limit", std::to_string(limit)},
          {"count", std::to_string(count)}};
}

Findings BehaviourStage::onHelo(Connection& tx) const {
  if (heloChanged_.off()) return {};
  const std::string& previous = tx.counters.previousHelo;
  // A repeated identical EHLO (after STARTTLS, RFC 3207 4.2) is the protocol working normally.
  if (previous.empty() || canonicalHostName(previous) == canonicalHostName(tx.client.helo))
    return {};
  const size_t n = tx.counters.heloCommands;
  return failCheck(heloChanged_, "behaviour", varsFor(tx, 0, n),
                   "HELO <" + sanitize(shownHelo(tx.client.helo)) + "> after <" +
                       sanitize(shownHelo(previous)) + ">, " + std::to_string(n) +
                       " HELO/EHLO commands");
}

Findings BehaviourStage::onMail(Connection& tx) const {
  const auto& n = tx.counters;
  Findings out;
  if (!tooManyRsets_.off() && n.abortedTransactions > maxRsets_) {
    out.add(failCheck(tooManyRsets_, "behaviour", varsFor(tx, maxRsets_, n.abortedTransactions),
                      std::to_string(n.abortedTransactions) + " aborted transactions, limit " +
                          std::to_string(maxRsets_)));
    if (out.refused()) return out;
  }
  if (!tooManyMessages_.off() && n.messages > maxMessages_)
    out.add(
        failCheck(tooManyMessages_, "behaviour", varsFor(tx, maxMessages_, n.messages),
                  std::to_string(n.messages) + " messages, limit " + std::to_string(maxMessages_)));
  return out;
}

Findings BehaviourStage::onRcpt(Connection& tx, const std::string&) const {
  const size_t refused = tx.counters.rejectedRecipients;
  if (tooManyRejectedRecipients_.off() || refused <= maxRejectedRecipients_) return {};
  return failCheck(tooManyRejectedRecipients_, "behaviour",
                   varsFor(tx, maxRejectedRecipients_, refused),
                   std::to_string(refused) + " rejected recipients, limit " +
                       std::to_string(maxRejectedRecipients_));
}

}  // namespace mxguard::stages
