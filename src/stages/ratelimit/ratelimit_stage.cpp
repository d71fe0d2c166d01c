// ratelimit_stage.cpp - each counted event is one atomic take per applicable limit (one Lua
// script run on Redis); the trace shows every limit's tokens left, a refusal its retry time.
// Must not: report a retry time the bucket does not promise, or take before the key is known.
#include "stages/ratelimit/ratelimit_stage.h"

#include <cmath>
#include <cstdio>

#include "base/counters.h"
#include "base/log.h"
#include "base/strings.h"
#include "stages/check_action.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"limit",       "key",           "rate",   "burst",
                                  "retry_after", "retry_seconds", "count",  "client_address",
                                  "client_name", "our_hostname",  "sender", "helo_name"};
const std::set<std::string> kFailureVars{"store_error", "client_address", "our_hostname", "sender"};

// Postfix anvil's wording (smtpd_client_*_rate_limit), plus which limit and when to come back.
const char* kDefaultReplies[] = {
    "421 4.7.0 ${our_hostname} Error: too many connections from ${key} (limit \"${limit}\": "
    "${rate}, burst ${burst}); try again in ${retry_after}",
    "450 4.7.1 Error: too much mail from ${key} (limit \"${limit}\": ${rate} messages, burst "
    "${burst}); try again in ${retry_after}",
    "450 4.7.1 Error: too many recipients from ${key} (limit \"${limit}\": ${rate} recipients, "
    "burst ${burst}); try again in ${retry_after}",
    "450 4.7.1 Error: too much mail from ${key} (limit \"${limit}\": ${rate} bytes, burst "
    "${burst}); try again in ${retry_after}",
};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v == std::floor(v) && v < 1e15 ? "%.0f" : "%.1f", v);
  return buf;
}

bool keyedOnForgeable(const RateLimitSpec& spec) {
  for (KeyField f : spec.key)
    if (f == KeyField::Sender || f == KeyField::SenderDomain || f == KeyField::Helo) return true;
  return false;
}

}  // namespace

std::vector<config::OptionSpec> RateLimitStage::options() {
  using config::OptionKind;
  return {
      {"limit", OptionKind::String, "", true, 0, 0,
       "NAME key=FIELD[+FIELD] count=connections|messages|recipients|bytes rate=N/UNIT "
       "[burst=N] [ipv4_prefix=N] [ipv6_prefix=N] [exempt_clients=CIDR,...] "
       "[exempt_authenticated=yes|no] [exempt_sender_domains=D,...] [mode=enforce|observe]"},
      {"limit_reply", OptionKind::String, "", true, 0, 0, "NAME TEMPLATE: one limit's own reply"},
      {"reply_connections", OptionKind::String, kDefaultReplies[0], false, 0, 0,
       "reply when a connection limit refuses (421 closes the session)"},
      {"reply_messages", OptionKind::String, kDefaultReplies[1], false, 0, 0,
       "reply when a message limit refuses"},
      {"reply_recipients", OptionKind::String, kDefaultReplies[2], false, 0, 0,
       "reply when a recipient limit refuses"},
      {"reply_bytes", OptionKind::String, kDefaultReplies[3], false, 0, 0,
       "reply when a byte limit refuses (at end of data)"},
      {"reply_store_failure", OptionKind::String,
       "451 4.3.0 Temporary failure: rate limit state unavailable; try again later", false, 0, 0,
       "reply when the store cannot answer and on_failure = tempfail (4xx only)"},
  };
}

StageSharedPtr RateLimitStage::create(const config::Section& section, const StageContext& context) {
  auto st = std::make_shared<RateLimitStage>();
  st->store_ = context.store;
  const char* replyOptions[] = {"reply_connections", "reply_messages", "reply_recipients",
                                "reply_bytes"};
  ReplyTemplate defaults[4];
  for (int i = 0; i < 4; ++i) defaults[i] = parseTemplate(section, replyOptions[i], kVars);
  for (const auto& v : section.getAll("limit")) {
    std::string error;
    auto spec = parseRateLimit(v.text, &error);
    if (!spec) section.fail(v, "limit", error);
    for (const auto& l : st->limits_)
      if (l.spec.name == spec->name)
        section.fail(v, "limit", "limit '" + spec->name + "' is defined twice");
    st->limits_.push_back({*spec, defaults[static_cast<int>(spec->counted)]});
  }
  if (st->limits_.empty())
    section.fail("limit",
                 "no limit configured: add e.g. 'limit = mail_per_ip key=client_ip "
                 "count=messages rate=100/h burst=20'");
  for (const auto& v : section.getAll("limit_reply")) {
    size_t sp = v.text.find(' ');
    std::string name = v.text.substr(0, sp);
    auto it = std::find_if(st->limits_.begin(), st->limits_.end(),
                           [&](const Limit& l) { return l.spec.name == name; });
    if (it == st->limits_.end())
      section.fail(v, "limit_reply", "'" + name + "' is not one of the configured limits");
    try {
      it->reply = ReplyTemplate::parse(sp == std::string::npos ? "" : v.text.substr(sp + 1), kVars);
    } catch (const TemplateError& e) {
      section.fail(v, "limit_reply", e.what());
    }
  }
  st->storeFailureReply_ =
      parseTempfailTemplate(section, "reply_store_failure", kFailureVars,
                            "must be 4xx: an unavailable store is a temporary failure");
  return st;
}

std::optional<Decision> RateLimitStage::take(Connection& tx, Counted what, double cost) const {
  std::string detail;
  std::optional<Decision> refusal;
  std::string storeError;
  bool any = false;
  auto note = [&](const std::string& s) { detail += (detail.empty() ? "" : "; ") + s; };
  for (const auto& limit : limits_) {
    const auto& spec = limit.spec;
    if (spec.counted != what) continue;
    any = true;
    if (tx.rejectionHeld && keyedOnForgeable(spec)) {
      // The client is refused already: counting it under a sender or HELO it chose would drain
      // that (someone else's) bucket. Its own address and user still count.
      note(spec.name + ": not counted (a rejection is held and the key is the client's to forge)");
      continue;
    }
    std::string why;
    auto key = limitKey(spec, tx, &why);
    if (!key) {
      note(spec.name + ": not applied (" + why + ")");
      continue;
    }
    store::TokenResult r = store_->takeToken(key->storeKey, spec.burst, spec.perSecond, cost);
    std::string who = spec.name + " (" + key->description + ")";
    if (r.status != store::StoreStatus::Ok) {
      note(who + ": store unavailable (" + r.error + ")");
      if (storeError.empty()) storeError = r.error;
      continue;
    }
    if (r.allowed) {
      note(who + ": " + number(r.remaining) + " of " + number(spec.burst) + " left");
      continue;
    }
    std::string state = who + ": refused, " + number(r.remaining) + " of " + number(spec.burst) +
                        " left, retry in " + humanDuration(r.retryAfter);
    TemplateVars vars{{"limit", spec.name},
                      {"key", key->description},
                      {"rate", spec.rateText},
                      {"burst", number(spec.burst)},
                      {"retry_after", humanDuration(r.retryAfter)},
                      {"retry_seconds", std::to_string((r.retryAfter.count() + 999) / 1000)},
                      {"count", toString(spec.counted)},
                      {"client_address", tx.client.clientAddress},
                      {"client_name", tx.client.clientName},
                      {"our_hostname", tx.client.ourHostname},
                      {"sender", tx.message.sender},
                      {"helo_name", tx.client.helo}};
    Reply reply = limit.reply.render(vars);
    if (spec.observe) {
      countEvent("ratelimit.observed");
      std::string smtp = trimLineEnd(reply.toSmtp());
      logMessage(LogLevel::Warning, "ratelimit: limit " + spec.name +
                                        " (observe mode) would reply: " + sanitize(smtp));
      note(state + " (observe: not enforced)");
      continue;
    }
    note(state);
    std::string reason = "ratelimit." + spec.name;
    refusal = reply.isPermanent() ? Decision::reject(std::move(reply), reason)
                                  : Decision::tempfail(std::move(reply), reason);
    break;  // the other limits keep their tokens
  }
  if (!any) return std::nullopt;
  if (refusal) {
    refusal->detail = sanitize(detail);
    return refusal;
  }
  if (!storeError.empty()) {
    TemplateVars vars{{"store_error", storeError},
                      {"client_address", tx.client.clientAddress},
                      {"our_hostname", tx.client.ourHostname},
                      {"sender", tx.message.sender}};
    return Decision::dependencyTempfail(storeFailureReply_.render(vars), "ratelimit.store_failure",
                                        sanitize(detail));
  }
  return Decision::pass("ratelimit.ok", sanitize(detail));
}

Findings RateLimitStage::onConnect(Connection& tx) const {
  return take(tx, Counted::Connections, 1);
}
Findings RateLimitStage::onMail(Connection& tx) const {
  return take(tx, Counted::Messages, 1);
}
Findings RateLimitStage::onRcpt(Connection& tx, const std::string&) const {
  return take(tx, Counted::Recipients, 1);
}
Findings RateLimitStage::onEom(Connection& tx) const {
  // The message's size as the MTA passed it: body plus the header fields kept (bounded).
  double bytes = static_cast<double>(tx.message.bodyBytes);
  for (const auto& h : tx.message.headers) bytes += h.name.size() + h.value.size() + 4;
  return take(tx, Counted::Bytes, std::max(bytes, 1.0));
}

}  // namespace mxguard::stages
