// milter_adapter.cpp - one MilterConnection per SMTP connection (smfi_setpriv), deleted at close.
// Must not: call libmilter outside these callbacks (libmilter's rule) or other than via calls().
#include "milter/milter_adapter.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "base/counters.h"
#include "base/log.h"
#include "core/engine.h"

namespace mxguard::milter {
namespace {

app::PolicyHolder* gPolicies = nullptr;
std::string gDefaultHostname = "localhost";
// Whether the MTA agreed to send header values with their leading space (per MTA, but one
// daemon serves one MTA; a mixed fleet would at worst make DKIM "simple" headers fail).
std::atomic<bool> gLeadingSpace{false};
std::atomic<bool> gUnansweredData{false};  // see setUnansweredData

// libmilter itself, unless a test installed a fake (setMilterCallsForTests).
MilterCalls gLibmilter;
MilterCalls* gCalls = &gLibmilter;
MilterCalls& calls() {
  return *gCalls;
}

std::atomic<unsigned> gConnectionLimit{kDefaultConnectionLimit};
std::atomic<unsigned> gOpenConnections{0};

// A place among max_connections, held for a connection's lifetime: libmilter has no limit of its
// own and accepts until it runs out of descriptors.
class ConnectionSlot {
 public:
  // nullopt when the limit is reached; *open then says how many are open.
  static std::optional<ConnectionSlot> take(unsigned* open) {
    unsigned before = gOpenConnections.fetch_add(1, std::memory_order_relaxed);
    if (before < gConnectionLimit.load(std::memory_order_relaxed)) return ConnectionSlot();
    gOpenConnections.fetch_sub(1, std::memory_order_relaxed);
    *open = before;
    return std::nullopt;
  }
  ConnectionSlot(ConnectionSlot&& o) noexcept : held_(std::exchange(o.held_, false)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (held_) gOpenConnections.fetch_sub(1, std::memory_order_relaxed);
  }

 private:
  ConnectionSlot() = default;
  bool held_ = true;
};

struct MilterConnection {
  MilterConnection(PolicySharedPtr p, ConnectionSlot s)
      : slot(std::move(s)), engine(std::move(p)) {}
  ConnectionSlot slot;
  Engine engine;
  // An internal error in an unanswered step (header, body), answered as tempfail at the next
  // answered step. A verdict that ends the message there is kept by the Engine itself.
  bool failed = false;
};

MilterConnection* connectionOf(SMFICTX* ctx) {
  return static_cast<MilterConnection*>(calls().getPriv(ctx));
}

std::string macro(SMFICTX* ctx, const char* name) {
  const char* v = calls().getSymVal(ctx, name);
  return v ? v : "";
}

std::string addressFromSockaddr(const sockaddr* sa) {
  if (!sa) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  return buf;
}

void refreshQueueId(SMFICTX* ctx, Connection& tx) {
  std::string id = macro(ctx, "i");
  if (!id.empty()) tx.message.queueId = id;
}

// Verdict -> libmilter answer. The reply's '%' are doubled (milterLines) because the MTA treats
// the text as a format string.
sfsistat answer(SMFICTX* ctx, const Verdict& v) {
  switch (v.action) {
    case Action::Pass:
      return SMFIS_CONTINUE;
    case Action::Quarantine:
      // The Engine gives a quarantine only as the end-of-message verdict, the one step where
      // libmilter allows smfi_quarantine.
      calls().quarantine(ctx, v.reason.c_str());
      return SMFIS_CONTINUE;
    case Action::Reject:
    case Action::Tempfail:
      break;
  }
  if (v.reply) {
    std::string code = std::to_string(v.reply->code());
    std::string enhanced = v.reply->enhanced();
    auto lines = v.reply->milterLines();
    int rc;
    if (lines.size() == 1) {
      rc = calls().setReply(ctx, code.c_str(), enhanced.c_str(), lines[0].c_str());
    } else {
      std::array<const char*, Reply::kMaxLines> l{};
      size_t n = std::min(lines.size(), l.size());
      for (size_t i = 0; i < n; ++i) l[i] = lines[i].c_str();
      rc = calls().setMlReply(ctx, code.c_str(), enhanced.c_str(), std::span(l.data(), n));
    }
    if (rc != MI_SUCCESS)
      logMessage(LogLevel::Error, "smfi_setreply refused the reply: " + v.reply->text());
  }
  return v.action == Action::Reject ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

// The exception firewall (gwmilter's pattern): written once, wrapped around every callback.
template <class Body>
sfsistat guarded(const char* callback, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    logMessage(LogLevel::Error,
               std::string(callback) + ": internal error: " + e.what() + "; answering tempfail");
  } catch (...) {
    logMessage(LogLevel::Error,
               std::string(callback) + ": unknown internal error; answering tempfail");
  }
  countEvent("milter.internal_error");
  return SMFIS_TEMPFAIL;
}

// Every callback after connect: a missing private object (e.g. connect failed) means "let the
// MTA decide with its milter_default_action", so we answer tempfail rather than guess.
template <class Body>
sfsistat withConnection(SMFICTX* ctx, const char* callback, Body&& body) {
  return guarded(callback, [&]() -> sfsistat {
    MilterConnection* c = connectionOf(ctx);
    if (!c) return SMFIS_TEMPFAIL;
    return body(*c);
  });
}

// Like guarded()'s answer: tempfail with the MTA's own text.
Verdict internalTempfail() {
  Verdict v;
  v.action = Action::Tempfail;
  v.reason = "milter.internal_error";
  return v;
}

// Header and body steps are negotiated without replies (SMFIP_NR_HDR, SMFIP_NR_BODY): the
// client hears nothing before the final dot anyway, and each answer is one more round trip
// between the MTA and us per header and per body chunk (measured: 11 % more messages per second
// and 27 % less milter CPU for the null milter). libmilter then sends no reply whatever we
// return; a verdict that ends the message is kept by the Engine and given again at end of
// headers or message.
template <class Step>
sfsistat unanswered(SMFICTX* ctx, const char* callback, Step&& step) {
  MilterConnection* c = connectionOf(ctx);
  if (!c || c->failed) return SMFIS_NOREPLY;
  sfsistat caught = guarded(callback, [&]() -> sfsistat {
    step(*c);
    return SMFIS_NOREPLY;
  });
  if (caught == SMFIS_TEMPFAIL) c->failed = true;  // logged and counted by guarded()
  return SMFIS_NOREPLY;
}

// An answered step after an internal error in an unanswered one: tempfail, once.
bool answerFailure(MilterConnection& c) {
  bool failed = c.failed;
  c.failed = false;
  return failed;
}

// Over max_connections: 421 at once, so the MTA closes the session rather than hold it open. One
// log line per 10 s while it lasts (with how many were held back); the counter has them all.
sfsistat refuseOverLimit(SMFICTX* ctx, const std::string& addr, unsigned open) {
  countEvent("milter.connection_limit");
  std::string host = macro(ctx, "j");
  Verdict v;
  v.action = Action::Tempfail;
  v.reason = "milter.connection_limit";
  v.reply = Reply::make(
      421, "4.7.0",
      (host.empty() ? gDefaultHostname : host) + " Error: too many connections; try again later");
  unsigned limit = gConnectionLimit.load(std::memory_order_relaxed);
  logOncePer("milter.connection_limit", std::chrono::seconds(10), LogLevel::Warning,
             "connection from " + (addr.empty() ? std::string("unknown") : addr) +
                 " refused with 421 4.7.0: " + std::to_string(open) +
                 " connections open, the limit (max_connections = " + std::to_string(limit) + ")");
  return answer(ctx, v);
}

sfsistat onConnect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
  return guarded("connect", [&]() -> sfsistat {
    // Prefer Postfix's macros: they carry what XCLIENT presented, as Postfix reports the client.
    std::string addr = macro(ctx, "{client_addr}");
    if (addr.empty()) addr = addressFromSockaddr(hostaddr);
    unsigned open = 0;
    std::optional<ConnectionSlot> slot = ConnectionSlot::take(&open);
    if (!slot) return refuseOverLimit(ctx, addr, open);
    auto c = std::make_unique<MilterConnection>(gPolicies->snapshot(), std::move(*slot));
    auto& conn = c->engine.connection().client;
    conn.clientIp = IpAddress::parse(addr);
    conn.clientAddress =
        conn.clientIp ? conn.clientIp->toString() : (addr.empty() ? "unknown" : addr);
    std::string name = macro(ctx, "{client_name}");
    if (name.empty() && hostname) name = hostname;
    // libmilter gives "[192.0.2.1]" as hostname when the MTA has no verified name.
    if (name.empty() || name.front() == '[') name = "unknown";
    conn.clientName = name;
    conn.clientPtr = macro(ctx, "{client_ptr}");
    conn.ourHostname = macro(ctx, "j");
    if (conn.ourHostname.empty()) conn.ourHostname = gDefaultHostname;
    if (auto ours = IpAddress::parse(macro(ctx, "{daemon_addr}"));
        ours && !ours->toString().empty())
      conn.ourAddresses.push_back(*ours);
    if (calls().setPriv(ctx, c.get()) != MI_SUCCESS) return SMFIS_TEMPFAIL;
    MilterConnection* owned = c.release();
    return answer(ctx, owned->engine.connect());
  });
}

sfsistat onHelo(SMFICTX* ctx, char* helo) {
  return withConnection(ctx, "helo", [&](MilterConnection& c) {
    return answer(ctx, c.engine.helo(helo ? helo : ""));
  });
}

sfsistat onEnvFrom(SMFICTX* ctx, char** argv) {
  return withConnection(ctx, "envfrom", [&](MilterConnection& c) {
    c.failed = false;  // a new message (an MTA that skipped abort must not inherit a failure)
    auto& tx = c.engine.connection();
    tx.client.authUser = macro(ctx, "{auth_authen}");
    Verdict v = c.engine.mail(argv && argv[0] ? argv[0] : "");
    for (int i = 1; argv && argv[0] && argv[i]; ++i)  // ESMTP parameters of MAIL FROM
      if (strcasecmp(argv[i], "SMTPUTF8") == 0) tx.message.smtputf8 = true;
    refreshQueueId(ctx, tx);
    return answer(ctx, v);
  });
}

sfsistat onEnvRcpt(SMFICTX* ctx, char** argv) {
  return withConnection(ctx, "envrcpt", [&](MilterConnection& c) {
    refreshQueueId(ctx, c.engine.connection());
    return answer(ctx, c.engine.rcpt(argv && argv[0] ? argv[0] : ""));
  });
}

sfsistat onData(SMFICTX* ctx) {
  // Registered, and answered over TCP, so Postfix's DATA macros get an answer at once (without
  // it they met a 40 ms delayed-ACK stall). On a unix socket negotiated without a reply
  // (SMFIP_NR_DATA, setUnansweredData): no stage decides at DATA, so the wait bought nothing.
  // SMFIS_NOREPLY for a step negotiated with a reply would send nothing: the MTA would wait.
  const sfsistat reply =
      gUnansweredData.load(std::memory_order_relaxed) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
  MilterConnection* c = connectionOf(ctx);
  if (c)
    guarded("data", [&]() -> sfsistat {
      refreshQueueId(ctx, c->engine.connection());
      return reply;
    });
  return reply;  // a missing connection answers at end of headers (tempfail)
}

sfsistat onHeader(SMFICTX* ctx, char* name, char* value) {
  return unanswered(ctx, "header", [&](MilterConnection& c) {
    // With SMFIP_HDR_LEADSPC (negotiated when offered) the value arrives exactly as sent; stages
    // see it as without that option (one leading space removed), DKIM rebuilds the original.
    std::string_view v = value ? value : "";
    std::string_view leading = " ";
    if (gLeadingSpace.load(std::memory_order_relaxed)) {
      leading = v.starts_with(' ') ? " " : "";
      v.remove_prefix(leading.size());
    }
    return c.engine.header(name ? name : "", v, leading);
  });
}

sfsistat onEoh(SMFICTX* ctx) {
  return withConnection(ctx, "eoh", [&](MilterConnection& c) {
    if (answerFailure(c)) return answer(ctx, internalTempfail());
    return answer(ctx, c.engine.endOfHeaders());
  });
}

sfsistat onBody(SMFICTX* ctx, unsigned char* chunk, size_t size) {
  return unanswered(ctx, "body", [&](MilterConnection& c) {
    return c.engine.body(std::string_view(reinterpret_cast<char*>(chunk), size));
  });
}

sfsistat onEom(SMFICTX* ctx) {
  return withConnection(ctx, "eom", [&](MilterConnection& c) {
    auto& tx = c.engine.connection();
    refreshQueueId(ctx, tx);
    if (answerFailure(c)) return answer(ctx, internalTempfail());
    Verdict v = c.engine.endOfMessage();
    // With SMFIP_HDR_LEADSPC the MTA also inserts values exactly as given: add the space.
    std::string lead = gLeadingSpace.load(std::memory_order_relaxed) ? " " : "";
    for (const auto& edit : c.engine.headerEdits()) {
      const char* name = edit.name.c_str();
      if (edit.kind == Engine::HeaderEdit::Kind::Delete) {
        if (calls().chgHeader(ctx, name, edit.index, nullptr) != MI_SUCCESS)
          logMessage(LogLevel::Error, "smfi_chgheader refused to delete " + edit.name + " #" +
                                          std::to_string(edit.index));
      } else {
        std::string value = lead + edit.value;
        calls().insHeader(ctx, 0, name, value.c_str());
      }
    }
    return answer(ctx, v);
  });
}

// Asks for the header values exactly as sent (SMFIP_HDR_LEADSPC) when the MTA offers it: DKIM
// "simple" header canonicalization needs the white space after the colon. Header and body steps
// go unanswered (see unanswered()); libmilter emulates that for an MTA that lacks it. Every
// callback stays.
sfsistat onNegotiate(SMFICTX*, unsigned long actions, unsigned long steps, unsigned long,
                     unsigned long, unsigned long* wantActions, unsigned long* wantSteps,
                     unsigned long*, unsigned long*) {
  *wantActions = actions & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE);
  unsigned long unanswered = SMFIP_NR_HDR | SMFIP_NR_BODY;
  if (gUnansweredData.load(std::memory_order_relaxed)) unanswered |= SMFIP_NR_DATA;
  *wantSteps = steps & (SMFIP_HDR_LEADSPC | unanswered);
  gLeadingSpace.store((steps & SMFIP_HDR_LEADSPC) != 0, std::memory_order_relaxed);
  return SMFIS_CONTINUE;
}

sfsistat onAbort(SMFICTX* ctx) {
  return withConnection(ctx, "abort", [&](MilterConnection& c) {
    c.failed = false;
    c.engine.abort();
    return SMFIS_CONTINUE;
  });
}

sfsistat onClose(SMFICTX* ctx) {
  return guarded("close", [&]() -> sfsistat {
    std::unique_ptr<MilterConnection> c(connectionOf(ctx));
    calls().setPriv(ctx, nullptr);
    if (c) c->engine.close();
    return SMFIS_CONTINUE;
  });
}

}  // namespace

// The production seam: libmilter's functions take char* but only read (they copy what they keep).
void* MilterCalls::getPriv(SMFICTX* ctx) {
  return smfi_getpriv(ctx);
}
int MilterCalls::setPriv(SMFICTX* ctx, void* priv) {
  return smfi_setpriv(ctx, priv);
}
const char* MilterCalls::getSymVal(SMFICTX* ctx, const char* name) {
  return smfi_getsymval(ctx, const_cast<char*>(name));
}
int MilterCalls::setReply(SMFICTX* ctx, const char* code, const char* enhanced, const char* text) {
  return smfi_setreply(ctx, const_cast<char*>(code), const_cast<char*>(enhanced),
                       const_cast<char*>(text));
}
int MilterCalls::setMlReply(SMFICTX* ctx, const char* code, const char* enhanced,
                            std::span<const char* const> lines) {
  // smfi_setmlreply is variadic and stops at the first null: pass all 32 slots, unused ones null.
  std::array<const char*, Reply::kMaxLines + 1> l{};
  std::copy_n(lines.begin(), std::min(lines.size(), Reply::kMaxLines), l.begin());
  return smfi_setmlreply(ctx, code, enhanced, l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8],
                         l[9], l[10], l[11], l[12], l[13], l[14], l[15], l[16], l[17], l[18], l[19],
                         l[20], l[21], l[22], l[23], l[24], l[25], l[26], l[27], l[28], l[29],
                         l[30], l[31], nullptr);
}
int MilterCalls::quarantine(SMFICTX* ctx, const char* reason) {
  return smfi_quarantine(ctx, const_cast<char*>(reason));
}
int MilterCalls::chgHeader(SMFICTX* ctx, const char* name, int index, const char* value) {
  return smfi_chgheader(ctx, const_cast<char*>(name), index, const_cast<char*>(value));
}
int MilterCalls::insHeader(SMFICTX* ctx, int index, const char* name, const char* value) {
  return smfi_insheader(ctx, index, const_cast<char*>(name), const_cast<char*>(value));
}

void setMilterCallsForTests(MilterCalls* calls) {
  gCalls = calls ? calls : &gLibmilter;
}

void setPolicyHolder(app::PolicyHolder* holder) {
  gPolicies = holder;
}
void setDefaultHostname(const std::string& name) {
  gDefaultHostname = name;
}
void setConnectionLimit(unsigned limit) {
  gConnectionLimit.store(limit, std::memory_order_relaxed);
}
void setUnansweredData(bool unanswered) {
  gUnansweredData.store(unanswered, std::memory_order_relaxed);
}

smfiDesc makeFilterDescription() {
  smfiDesc d{};
  d.xxfi_name = const_cast<char*>("mxguard");
  d.xxfi_version = SMFI_VERSION;
  d.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
  d.xxfi_connect = onConnect;
  d.xxfi_helo = onHelo;
  d.xxfi_envfrom = onEnvFrom;
  d.xxfi_envrcpt = onEnvRcpt;
  d.xxfi_header = onHeader;
  d.xxfi_eoh = onEoh;
  d.xxfi_body = onBody;
  d.xxfi_eom = onEom;
  d.xxfi_abort = onAbort;
  d.xxfi_close = onClose;
  d.xxfi_data = onData;
  d.xxfi_negotiate = onNegotiate;
  return d;
}

}  // namespace mxguard::milter
