// smtp_connection.h - one client-side SMTP connection with a deadline on every step: connect,
// read a (multi-line) reply, send a command. Non-blocking socket + poll; never waits past the
// deadline it is given.
// Must not: interpret replies beyond their syntax (the probe decides what a code means).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace mxguard::smtp {

using Deadline = std::chrono::steady_clock::time_point;

struct SmtpReply {
  int code = 0;                    // 0 when no valid reply was read
  std::vector<std::string> lines;  // text after "250-"/"250 ", raw bytes
  std::string text() const;        // lines joined by a space
  std::string firstLine() const;   // "550 5.1.1 <x@example.net>: Recipient address rejected: ..."
};

enum class IoStatus { Ok, Timeout, Closed, Error, Garbage };
const char* toString(IoStatus s);

// Why `text` cannot go into a command line ("refusing to send a command with character 0x0D"),
// or "" when it can: any byte below 0x20, and DEL.
std::string unsendable(const std::string& text);

constexpr size_t kMaxReplyLine = 4096;  // octets before the LF; a longer line is Garbage
constexpr size_t kMaxReplyLines = 100;  // lines kept per reply; further ones are read and dropped

// readReply's parser without the socket (fuzzed by tests/fuzz/fuzz_smtp_reply.cpp): takes the
// complete lines at the front of `buffer` into `reply` (an empty SmtpReply on the first call).
// Complete: `reply` is done, bytes after it stay in `buffer`. NeedMore: append input and call
// again with the same reply. Garbage: *error says why. A code is 100..999 on every line alike.
enum class ReplyParse { Complete, NeedMore, Garbage };
ReplyParse parseReply(std::string& buffer, SmtpReply* reply, std::string* error);

class SmtpConnection {
 public:
  SmtpConnection() = default;
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;
  ~SmtpConnection();

  IoStatus connect(const std::string& address, int port, Deadline deadline, std::string* error);
  IoStatus readReply(Deadline deadline, SmtpReply* reply, std::string* error);
  // Sends one command line and its CRLF. A line with CR, LF or another control byte is refused
  // (Error, nothing sent): an address carrying "\r\nDATA" must not become a second command.
  IoStatus send(const std::string& line, Deadline deadline, std::string* error);
  void close();

 private:
  IoStatus fill(Deadline deadline, std::string* error);  // reads more into buffer_
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace mxguard::smtp
