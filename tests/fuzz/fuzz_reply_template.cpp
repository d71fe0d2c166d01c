// fuzz_reply_template.cpp - libFuzzer target: ReplyTemplate::parse/render, Reply::make and
// sanitize. Input: first line = template source, further lines = values of the variables.
// Invariants: every reply line "CCC-X.Y.Z text\r\n" fits 512 octets and holds no CR, LF or other
// byte outside printable ASCII; at most 32 lines; sanitize keeps length and is printable ASCII.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/reply.h"
#include "core/reply_template.h"
#include "fuzz/fuzz_check.h"

using mxguard::Reply;

namespace {

using fuzz::fail;
using fuzz::printable;

void checkReply(const Reply& r) {
  if (r.code() < 400 || r.code() > 599) fail("reply code out of range", std::to_string(r.code()));
  if (r.lines().empty() || r.lines().size() > Reply::kMaxLines)
    fail("reply line count", std::to_string(r.lines().size()));
  for (const auto& line : r.lines()) {
    if (!printable(line)) fail("reply line not printable ASCII", line);
    size_t octets = 3 + 1 + r.enhanced().size() + 1 + line.size() + 2;
    if (octets > Reply::kMaxLineOctets) fail("reply line over 512 octets", line);
  }
  std::string smtp = r.toSmtp();
  size_t start = 0;
  while (start < smtp.size()) {
    size_t crlf = smtp.find("\r\n", start);
    if (crlf == std::string::npos) fail("toSmtp not CRLF-terminated", smtp.substr(start));
    std::string_view line(smtp.data() + start, crlf - start);
    if (line.size() + 2 > Reply::kMaxLineOctets) fail("toSmtp line over 512", std::string(line));
    if (!printable(line)) fail("toSmtp line holds CR/LF or control", std::string(line));
    start = crlf + 2;
  }
  for (const auto& line : r.milterLines())
    if (!printable(line)) fail("milter line not printable", line);
  Reply soft = r.softened();
  if (soft.code() >= 500) fail("softened reply is still 5xx", soft.text());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  std::string clean = mxguard::sanitize(in);
  if (clean.size() != in.size() || !printable(clean)) fail("sanitize output", clean);

  size_t nl = in.find('\n');
  std::string_view source = in.substr(0, nl);
  std::vector<std::string> values;
  if (nl != std::string_view::npos) {
    std::string_view rest = in.substr(nl + 1);
    while (true) {
      size_t e = rest.find('\n');
      values.emplace_back(rest.substr(0, e));
      if (e == std::string_view::npos) break;
      rest = rest.substr(e + 1);
    }
  }

  static const std::set<std::string> allowed = {"client_address", "client_name", "helo_name",
                                                "rbl_domain",     "rbl_txt",     "sender"};
  mxguard::TemplateVars vars;
  size_t i = 0;
  for (const auto& name : allowed)
    if (i < values.size()) vars[name] = values[i++];

  try {
    auto t = mxguard::ReplyTemplate::parse(source, allowed);
    checkReply(t.render(vars));
    checkReply(t.render({}));
  } catch (const mxguard::TemplateError&) {
  }

  // Reply::make directly: the code from the first two bytes, the text from everything.
  int code = size >= 2 ? 400 + (data[0] << 8 | data[1]) % 200 : 550;
  std::string enhanced = std::to_string(code / 100) + ".7.1";
  std::string error;
  if (auto r = Reply::make(code, enhanced, in, &error))
    checkReply(*r);
  else
    fail("Reply::make refused a valid code", error);
  if (auto r = Reply::make(code, source, in, &error)) checkReply(*r);
  return 0;
}
