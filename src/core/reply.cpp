// reply.cpp - validation, sanitising and line wrapping of every reply (Postfix smtpd_check_reject).
// Must not: let a byte outside printable ASCII, or a line over 512 octets, reach the client.
#include "core/reply.h"

#include <cctype>

namespace mxguard {

std::string sanitize(std::string_view outside) {
  std::string out(outside);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  return out;
}

namespace {

bool validEnhanced(std::string_view e, int code, std::string* error) {
  // class.subject.detail: class 2/4/5, subject 0..999, detail 0..999 (RFC 3463)
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    return false;
  };
  int parts = 0;
  size_t start = 0;
  while (true) {
    size_t dot = e.find('.', start);
    auto part =
        e.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 3)
      return fail("invalid enhanced status code '" + sanitize(e) + "' (use e.g. 5.7.1)");
    for (char c : part)
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return fail("invalid enhanced status code '" + sanitize(e) + "' (use e.g. 5.7.1)");
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  // RFC 3463 section 2: the class is one digit; subject and detail one to three.
  if (parts != 3 || e.find('.') != 1)
    return fail("invalid enhanced status code '" + sanitize(e) + "' (use e.g. 5.7.1)");
  if (e[0] - '0' != code / 100)
    return fail("enhanced status code " + std::string(e) + " does not match reply code " +
                std::to_string(code) + " (the class must be " + std::to_string(code / 100) + ")");
  return true;
}

// Splits text into lines of at most `width` octets, breaking at spaces where possible.
std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size() && lines.size() < Reply::kMaxLines) {
    while (pos < text.size() && text[pos] == ' ' && !lines.empty()) ++pos;
    if (text.size() - pos <= width) {
      lines.push_back(text.substr(pos));
      pos = text.size();
      break;
    }
    size_t cut = text.rfind(' ', pos + width);
    if (cut == std::string::npos || cut <= pos) cut = pos + width;
    lines.push_back(text.substr(pos, cut - pos));
    pos = cut;
  }
  if (pos < text.size() && !lines.empty()) {
    // More than 32 lines: the end is cut, and says so.
    std::string& last = lines.back();
    if (last.size() + 4 > width) last.resize(width - 4);
    last += " ...";
  }
  if (lines.empty()) lines.emplace_back();
  return lines;
}

}  // namespace

std::optional<Reply> Reply::make(int code, std::string_view enhanced, std::string_view text,
                                 std::string* error) {
  if (code < 400 || code > 599) {
    if (error) *error = "reply code " + std::to_string(code) + " is not a 4xx or 5xx code";
    return std::nullopt;
  }
  if (!validEnhanced(enhanced, code, error)) return std::nullopt;
  Reply r;
  r.code_ = code;
  r.enhanced_ = std::string(enhanced);
  // "550-5.7.1 " + text + CRLF must fit in 512 octets.
  size_t width = kMaxLineOctets - 2 - 4 - (r.enhanced_.size() + 1);
  r.lines_ = wrap(sanitize(text), width);
  return r;
}

std::string Reply::text() const {
  std::string out;
  for (size_t i = 0; i < lines_.size(); ++i) {
    if (i) out += ' ';
    out += lines_[i];
  }
  return out;
}

std::string Reply::toSmtp() const {
  std::string out;
  for (size_t i = 0; i < lines_.size(); ++i) {
    out += std::to_string(code_);
    out += (i + 1 < lines_.size()) ? '-' : ' ';
    out += enhanced_ + ' ' + lines_[i] + "\r\n";
  }
  return out;
}

Reply Reply::softened() const {
  Reply r = *this;
  if (r.code_ >= 500) {
    r.code_ -= 100;
    r.enhanced_[0] = '4';
  }
  return r;
}

std::vector<std::string> Reply::milterLines() const {
  std::vector<std::string> out;
  for (const auto& line : lines_) {
    std::string escaped;
    for (char c : line) {
      escaped += c;
      if (c == '%') escaped += '%';
    }
    out.push_back(std::move(escaped));
  }
  return out;
}

}  // namespace mxguard
