// access_rule.cpp - parses one access map value into an AccessRule.
// Must not: build a reply that could carry a 5xx for a tempfail or a 4xx for a reject.
#include "app/access_rule.h"

#include <cctype>

#include "base/strings.h"

namespace mxguard::app {
namespace {

std::string_view firstWord(std::string_view s, std::string_view* rest) {
  size_t end = 0;
  while (end < s.size() && !std::isspace(static_cast<unsigned char>(s[end]))) ++end;
  std::string_view word = s.substr(0, end);
  s.remove_prefix(end);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  *rest = s;
  return word;
}

// Postfix's texts for an access map's REJECT, by what the map is consulted for.
std::string deniedText(AccessSubject subject) {
  switch (subject) {
    case AccessSubject::ClientAddress:
    case AccessSubject::ClientName:
      return "Client host rejected: Access denied";
    case AccessSubject::Helo:
      return "Helo command rejected: Access denied";
    case AccessSubject::Sender:
      return "Sender address rejected: Access denied";
    case AccessSubject::Recipient:
      return "Recipient address rejected: Access denied";
  }
  return "Access denied";
}

bool isCode(std::string_view w) {
  return w.size() == 3 && std::isdigit(static_cast<unsigned char>(w[0])) &&
         std::isdigit(static_cast<unsigned char>(w[1])) &&
         std::isdigit(static_cast<unsigned char>(w[2]));
}

// "[CODE X.Y.Z] [text]" after reject (permanent) or tempfail.
std::optional<Reply> parseReply(std::string_view rest, AccessSubject subject, bool permanent,
                                std::string* error) {
  int code = permanent ? 554 : 450;
  std::string enhanced = permanent ? "5.7.1" : "4.7.1";
  std::string_view after;
  std::string_view word = firstWord(rest, &after);
  if (isCode(word)) {
    code = std::stoi(std::string(word));
    std::string_view text;
    std::string_view enh = firstWord(after, &text);
    if (enh.empty() || !std::isdigit(static_cast<unsigned char>(enh[0]))) {
      *error = "reply code " + std::string(word) + " needs an enhanced status code (e.g. " +
               (permanent ? "554 5.7.1" : "450 4.7.1") + " text)";
      return std::nullopt;
    }
    enhanced = std::string(enh);
    rest = text;
    if ((code >= 500) != permanent || code < 400 || code > 599) {
      *error = std::string(permanent ? "reject" : "tempfail") + " needs a " +
               (permanent ? "5xx" : "4xx") + " reply code, not " + std::to_string(code);
      return std::nullopt;
    }
  }
  std::string text = rest.empty() ? deniedText(subject) : std::string(rest);
  std::string why;
  auto reply = Reply::make(code, enhanced, text, &why);
  if (!reply) *error = why;
  return reply;
}

}  // namespace

std::optional<AccessRule> parseAccessRule(std::string_view value, AccessSubject subject,
                                          const SkipNameCheck& checkSkip, std::string* error) {
  std::string_view rest;
  std::string verb = lower(firstWord(value, &rest));
  AccessRule rule;
  if (verb == "allow") {
    if (!rest.empty()) {
      *error = "allow takes nothing after it (got '" + sanitize(rest) + "')";
      return std::nullopt;
    }
    rule.kind = AccessRule::Kind::Allow;
    return rule;
  }
  if (verb == "skip") {
    rule.kind = AccessRule::Kind::Skip;
    while (!rest.empty()) {
      std::string name = lower(firstWord(rest, &rest));
      if (auto problem = checkSkip(name)) {
        *error = *problem;
        return std::nullopt;
      }
      rule.skip.push_back(name);
    }
    if (rule.skip.empty()) {
      *error = "skip needs the stages or checks to skip (e.g. 'skip spf dmarc')";
      return std::nullopt;
    }
    return rule;
  }
  if (verb == "reject" || verb == "tempfail") {
    bool permanent = verb == "reject";
    rule.kind = permanent ? AccessRule::Kind::Reject : AccessRule::Kind::Tempfail;
    rule.reply = parseReply(rest, subject, permanent, error);
    if (!rule.reply) return std::nullopt;
    return rule;
  }
  *error = value.empty() ? std::string("no action after the key")
                         : "unknown action '" + sanitize(verb) + "'";
  *error +=
      " (use allow, skip STAGE|STAGE.CHECK..., reject [CODE X.Y.Z] [text] or tempfail "
      "[CODE X.Y.Z] [text])";
  return std::nullopt;
}

}  // namespace mxguard::app
