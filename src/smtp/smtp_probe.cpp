// smtp_probe.cpp - the dialogue of Postfix's verify(8)/Exim's callout: never DATA, always QUIT.
// Must not: wait on QUIT's reply longer than a moment: the answer is already known, or write a
// command with a control byte in it (CR/LF would smuggle in commands of the sender's choosing).
#include "smtp/smtp_probe.h"

#include <algorithm>
#include <utility>

namespace mxguard::smtp {

const char* toString(ProbeOutcome o) {
  switch (o) {
    case ProbeOutcome::Accepted:
      return "accepted";
    case ProbeOutcome::Rejected:
      return "rejected";
    case ProbeOutcome::NullSenderRefused:
      return "null sender refused";
    case ProbeOutcome::TempFailed:
      return "temporary failure";
    case ProbeOutcome::Unreachable:
      return "unreachable";
  }
  return "?";
}

namespace {

class Dialogue {
 public:
  Dialogue(ProbeResult& result, const ProbeOptions& options)
      : r_(result),
        options_(options),
        end_(std::chrono::steady_clock::now() + options.totalTimeout) {}

  Deadline step(std::chrono::milliseconds timeout) const {
    return std::min(end_, std::chrono::steady_clock::now() + timeout);
  }
  // Sends `command` (empty: just read, for the banner) and reads the reply; false on I/O failure
  // (result filled as Unreachable).
  bool exchange(const std::string& label, const std::string& command, SmtpReply* reply) {
    std::string error;
    if (!command.empty()) {
      r_.transcript.push_back("> " + command);
      if (IoStatus s = conn_.send(command, step(options_.commandTimeout), &error);
          s != IoStatus::Ok)
        return fail(label, error);
    }
    IoStatus s = conn_.readReply(step(options_.commandTimeout), reply, &error);
    if (s != IoStatus::Ok) return fail(label, error);
    for (size_t i = 0; i < reply->lines.size(); ++i)
      r_.transcript.push_back("< " + std::to_string(reply->code) +
                              (i + 1 < reply->lines.size() ? "-" : " ") + reply->lines[i]);
    return true;
  }
  bool fail(const std::string& label, const std::string& error) {
    r_.outcome = ProbeOutcome::Unreachable;
    r_.command = label;
    r_.error = error;
    r_.transcript.push_back("! " + error);
    return false;
  }
  void finish(ProbeOutcome o, const std::string& label, const SmtpReply& reply) {
    r_.outcome = o;
    r_.command = label;
    r_.reply = reply;
  }
  void quit() {
    std::string error;
    SmtpReply ignored;
    auto soon = step(std::chrono::milliseconds(2000));
    if (conn_.send("QUIT", soon, &error) == IoStatus::Ok) {
      r_.transcript.push_back("> QUIT");
      conn_.readReply(soon, &ignored, &error);
    }
    conn_.close();
  }
  SmtpConnection& connection() { return conn_; }

 private:
  ProbeResult& r_;
  const ProbeOptions& options_;
  Deadline end_;
  SmtpConnection conn_;
};

}  // namespace

ProbeResult SmtpProbe::probe(const std::string& host, const std::string& address,
                             const std::string& recipient, const ProbeOptions& options) const {
  ProbeResult r;
  r.host = host;
  r.address = address;
  Dialogue d(r, options);
  std::string error;
  // Checked before connecting (SmtpConnection::send refuses such a line too): a caller's bug or
  // a hostile address must cost the remote nothing, not even a half-finished dialogue.
  for (const auto& [label, text] :
       {std::pair<const char*, const std::string&>{"EHLO", options.heloName},
        {"MAIL FROM", options.verifySender},
        {"RCPT TO", recipient},
        {"RCPT TO", options.randomLocalPart}})
    if (std::string why = unsendable(text); !why.empty()) {
      d.fail(label, why);
      return r;
    }
  r.transcript.push_back("connect " + host + "[" + address + "]:" + std::to_string(options.port));
  if (d.connection().connect(address, options.port, d.step(options.connectTimeout), &error) !=
      IoStatus::Ok) {
    d.fail("connect", error);
    return r;
  }
  SmtpReply reply;
  if (!d.exchange("banner", "", &reply)) return r;
  if (reply.code / 100 != 2) {
    d.finish(ProbeOutcome::TempFailed, "banner", reply);
    d.quit();
    return r;
  }
  if (!d.exchange("EHLO", "EHLO " + options.heloName, &reply)) return r;
  if (reply.code / 100 != 2) {
    // RFC 5321 3.2: a server that does not know EHLO gets HELO.
    if (!d.exchange("HELO", "HELO " + options.heloName, &reply)) return r;
    if (reply.code / 100 != 2) {
      d.finish(ProbeOutcome::TempFailed, "HELO", reply);
      d.quit();
      return r;
    }
  }
  if (!d.exchange("MAIL FROM", "MAIL FROM:<" + options.verifySender + ">", &reply)) return r;
  if (reply.code / 100 != 2) {
    d.finish(reply.code / 100 == 5 && options.verifySender.empty() ? ProbeOutcome::NullSenderRefused
                                                                   : ProbeOutcome::TempFailed,
             "MAIL FROM", reply);
    d.quit();
    return r;
  }
  if (!d.exchange("RCPT TO", "RCPT TO:<" + recipient + ">", &reply)) return r;
  ProbeOutcome o = reply.code / 100 == 2   ? ProbeOutcome::Accepted
                   : reply.code / 100 == 5 ? ProbeOutcome::Rejected
                                           : ProbeOutcome::TempFailed;
  d.finish(o, "RCPT TO", reply);
  if (o == ProbeOutcome::Accepted && !options.randomLocalPart.empty()) {
    std::string domain = recipient.substr(recipient.rfind('@') + 1);
    SmtpReply random;
    if (d.exchange("RCPT TO", "RCPT TO:<" + options.randomLocalPart + "@" + domain + ">", &random))
      r.randomAccepted = random.code / 100 == 2;
    r.outcome = ProbeOutcome::Accepted;  // the address's own answer stands
    r.command = "RCPT TO";
  }
  d.quit();
  return r;
}

}  // namespace mxguard::smtp
