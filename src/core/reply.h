// reply.h - the one SMTP reply builder: every 4xx/5xx mxguard sends is made here and only here.
// Must not: send anything; the milter adapter and the harness decide how a Reply goes out.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxguard {

// Replaces CR, LF, NUL and every other byte outside printable ASCII with '?', so outside values
// (TXT records, HELO names, addresses, header text) can never break the reply or the log line.
std::string sanitize(std::string_view outside);

class Reply {
 public:
  static constexpr size_t kMaxLineOctets = 512;  // RFC 5321 4.5.3.1.5, including CRLF
  static constexpr size_t kMaxLines = 32;        // libmilter smfi_setmlreply limit

  // code 400..599; enhanced "X.Y.Z" whose class X equals the code's first digit; text is
  // sanitised and wrapped at spaces so that every line "CCC-X.Y.Z text\r\n" fits 512 octets.
  // Returns nullopt (and sets *error) when code or enhanced code are invalid.
  static std::optional<Reply> make(int code, std::string_view enhanced, std::string_view text,
                                   std::string* error = nullptr);

  int code() const { return code_; }
  const std::string& enhanced() const { return enhanced_; }
  const std::vector<std::string>& lines() const { return lines_; }
  std::string text() const;    // lines joined by a space: what logs and --json show
  std::string toSmtp() const;  // "550-5.7.1 a\r\n550 5.7.1 b\r\n" as the client sees it
  bool isPermanent() const { return code_ >= 500; }
  // soft_bounce: 5xx becomes 4xx with the enhanced class following.
  Reply softened() const;
  // Lines with '%' doubled: libmilter passes reply text through a printf-style formatter.
  std::vector<std::string> milterLines() const;

 private:
  int code_ = 451;
  std::string enhanced_ = "4.3.0";
  std::vector<std::string> lines_;
};

}  // namespace mxguard
