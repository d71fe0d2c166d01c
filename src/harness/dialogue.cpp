// dialogue.cpp - MTA-side behaviour mirrored from Postfix: a rejected RCPT does not stop the
// transaction, DATA happens only with at least one accepted recipient, replies to accepted
// steps use Postfix's texts.
// Must not: invent policy: every 4xx/5xx comes from the Engine.
#include "harness/dialogue.h"

#include "base/log.h"

namespace mxguard::harness {
namespace {

Step positive(std::string command, int code, std::string enhanced, std::string text) {
  Step s;
  s.command = std::move(command);
  s.code = code;
  s.enhanced = std::move(enhanced);
  s.text = std::move(text);
  return s;
}

// Returns true when the verdict rejected the step (and records it).
bool record(Outcome& out, std::string command, const Verdict& v, Step ok) {
  if (!v.isRejection() || !v.reply) {
    if (v.action == Action::Quarantine) out.action = "quarantine";
    out.steps.push_back(std::move(ok));
    return false;
  }
  Step s;
  s.command = std::move(command);
  s.code = v.reply->code();
  s.enhanced = v.reply->enhanced();
  s.text = v.reply->text();
  s.lines = v.reply->lines();
  s.phase = std::string(toString(v.phase));
  s.stage = v.stage;
  s.reason = v.reason;
  out.steps.push_back(s);
  if (!out.firstRejection) out.firstRejection = s;
  return true;
}

// Splits a raw message into unfolded headers and the body.
void splitMessage(const std::string& raw, std::vector<Header>& headers, std::string& body) {
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    std::string line = raw.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    size_t next = eol == std::string::npos ? raw.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      pos = next;
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !headers.empty()) {
      headers.back().value += "\r\n" + line;  // folded continuation, as libmilter passes it
    } else {
      size_t colon = line.find(':');
      if (colon == std::string::npos) {
        // Not a header: the message has no header section; all of it is body (as MTAs treat it).
        headers.clear();
        pos = 0;
        break;
      }
      std::string value = line.substr(colon + 1);
      bool space = !value.empty() && value[0] == ' ';
      if (space) value.erase(0, 1);
      headers.push_back({line.substr(0, colon), value, space ? " " : ""});
    }
    pos = next;
  }
  body = raw.substr(pos);
}

}  // namespace

Outcome runDialogue(PolicySharedPtr policy, const Transcript& t) {
  Outcome out;
  out.action = "accept";
  setLogSink([&out](LogLevel level, std::string_view m) {
    out.log.push_back(std::string(toString(level)) + ": " + std::string(m));
  });

  Engine engine(std::move(policy));
  auto& conn = engine.connection().client;
  conn.clientIp = IpAddress::parse(t.clientIp);
  conn.clientAddress = conn.clientIp ? conn.clientIp->toString() : t.clientIp;
  conn.clientName = t.clientName.empty() ? "unknown" : t.clientName;
  conn.ourHostname = t.ourHostname;

  engine.connect();
  out.steps.push_back(positive("(connect from " + conn.clientName + "[" + conn.clientAddress + "])",
                               220, "", t.ourHostname + " ESMTP mxguard-check"));
  // After a 421 the server has closed the connection (RFC 5321 3.8): no further commands.
  auto closed = [&] { return out.steps.back().code == 421; };
  if (t.helo) {
    record(out, "EHLO " + *t.helo, engine.helo(*t.helo),
           positive("EHLO " + *t.helo, 250, "", t.ourHostname));
  }
  bool mailOk = false;
  if (t.sender && !closed()) {
    std::string cmd = "MAIL FROM:<" + *t.sender + ">";
    conn.authUser = t.authUser;  // the MTA sends {auth_authen} with MAIL, as libmilter does
    mailOk = !record(out, cmd, engine.mail(*t.sender), positive(cmd, 250, "2.1.0", "Ok"));
  }
  size_t accepted = 0;
  if (mailOk) {
    for (const auto& r : t.recipients) {
      if (closed()) break;
      std::string cmd = "RCPT TO:<" + r + ">";
      if (!record(out, cmd, engine.rcpt(r), positive(cmd, 250, "2.1.5", "Ok"))) ++accepted;
    }
  }
  if (mailOk && accepted > 0 && t.message && !closed()) {
    out.steps.push_back(positive("DATA", 354, "", "End data with <CR><LF>.<CR><LF>"));
    std::vector<Header> headers;
    std::string body;
    splitMessage(*t.message, headers, body);
    // The milter's order: header and body steps are unanswered (a verdict that ends the message
    // there is kept by the Engine and given at end of headers or message); the MTA stops
    // sending the message once end of headers is refused, and aborts after a refusal.
    for (const auto& h : headers) engine.header(h.name, h.value, h.leading);
    Verdict end = engine.endOfHeaders();
    if (!end.isRejection()) {
      for (size_t off = 0; off < body.size(); off += 65536)
        engine.body(std::string_view(body).substr(off, 65536));
      end = engine.endOfMessage();
    }
    for (const auto& edit : engine.headerEdits()) {
      if (edit.kind == Engine::HeaderEdit::Kind::Delete)
        out.removedHeaders.push_back({edit.name, edit.index});
      else
        out.addedHeaders.push_back({edit.name, edit.value});
    }
    if (end.isRejection()) engine.abort();
    record(out, "(end of data)", end, positive("(end of data)", 250, "2.0.0", "Ok: queued"));
  } else if (t.sender) {
    engine.abort();  // what the MTA does at QUIT/RSET without DATA
  }
  if (!closed()) out.steps.push_back(positive("QUIT", 221, "2.0.0", "Bye"));
  engine.close();

  if (out.firstRejection) out.action = out.firstRejection->code >= 500 ? "reject" : "tempfail";
  out.trace = engine.connection().trace;
  setLogSink(nullptr);
  return out;
}

}  // namespace mxguard::harness
