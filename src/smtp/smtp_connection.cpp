// smtp_connection.cpp - replies are parsed per RFC 5321 4.2: "CCC-text" continues, "CCC text"
// ends; every line must carry the same code. Lines are capped (a hostile server cannot make us
// buffer without bound).
// Must not: block: every syscall is preceded by poll() with the remaining time.
#include "smtp/smtp_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mxguard::smtp {
namespace {

int remainingMs(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

}  // namespace

const char* toString(IoStatus s) {
  switch (s) {
    case IoStatus::Ok:
      return "ok";
    case IoStatus::Timeout:
      return "timed out";
    case IoStatus::Closed:
      return "connection closed";
    case IoStatus::Error:
      return "error";
    case IoStatus::Garbage:
      return "malformed reply";
  }
  return "?";
}

std::string SmtpReply::text() const {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : " ") + l;
  return out;
}

std::string SmtpReply::firstLine() const {
  return std::to_string(code) + (lines.empty() ? "" : " " + lines.front());
}

SmtpConnection::~SmtpConnection() {
  close();
}

void SmtpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

IoStatus SmtpConnection::connect(const std::string& address, int port, Deadline deadline,
                                 std::string* error) {
  close();
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *v6;
  } else {
    *error = "not an IP address: " + address;
    return IoStatus::Error;
  }
  fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return IoStatus::Error;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    *error = std::strerror(errno);
    close();
    return IoStatus::Error;
  }
  pollfd p{fd_, POLLOUT, 0};
  int n = poll(&p, 1, remainingMs(deadline));
  if (n == 0) {
    *error = "connect timed out";
    close();
    return IoStatus::Timeout;
  }
  int soError = 0;
  socklen_t sl = sizeof soError;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soError, &sl);
  if (n < 0 || soError != 0) {
    *error = std::strerror(n < 0 ? errno : soError);
    close();
    return IoStatus::Error;
  }
  return IoStatus::Ok;
}

IoStatus SmtpConnection::fill(Deadline deadline, std::string* error) {
  pollfd p{fd_, POLLIN, 0};
  int n = poll(&p, 1, remainingMs(deadline));
  if (n == 0) {
    *error = "timed out waiting for the server";
    return IoStatus::Timeout;
  }
  if (n < 0) {
    *error = std::strerror(errno);
    return IoStatus::Error;
  }
  char buf[4096];
  ssize_t got = recv(fd_, buf, sizeof buf, 0);
  if (got == 0) {
    *error = "the server closed the connection";
    return IoStatus::Closed;
  }
  if (got < 0) {
    *error = std::strerror(errno);
    return errno == ECONNRESET ? IoStatus::Closed : IoStatus::Error;
  }
  buffer_.append(buf, static_cast<size_t>(got));
  return IoStatus::Ok;
}

ReplyParse parseReply(std::string& buffer, SmtpReply* reply, std::string* error) {
  while (true) {
    size_t eol = buffer.find('\n');
    if (eol == std::string::npos ? buffer.size() > kMaxReplyLine : eol > kMaxReplyLine) {
      *error = "reply line longer than " + std::to_string(kMaxReplyLine) + " octets";
      return ReplyParse::Garbage;
    }
    if (eol == std::string::npos) return ReplyParse::NeedMore;
    std::string line = buffer.substr(0, eol);
    buffer.erase(0, eol + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Code 000 would read as "no code" (SmtpReply::code 0) and let the next line change it.
    bool valid = line.size() >= 3 && line[0] >= '1' && line[0] <= '9' &&
                 std::isdigit(static_cast<unsigned char>(line[1])) &&
                 std::isdigit(static_cast<unsigned char>(line[2])) &&
                 (line.size() == 3 || line[3] == ' ' || line[3] == '-');
    if (!valid) {
      *error = "malformed reply line";
      return ReplyParse::Garbage;
    }
    int code = std::stoi(line.substr(0, 3));
    if (reply->code != 0 && code != reply->code) {
      *error = "reply code changed within a multi-line reply";
      return ReplyParse::Garbage;
    }
    reply->code = code;
    if (reply->lines.size() < kMaxReplyLines)
      reply->lines.push_back(line.size() > 4 ? line.substr(4) : "");
    if (line.size() == 3 || line[3] == ' ') return ReplyParse::Complete;
  }
}

IoStatus SmtpConnection::readReply(Deadline deadline, SmtpReply* reply, std::string* error) {
  *reply = SmtpReply{};
  if (fd_ < 0) {
    *error = "not connected";
    return IoStatus::Error;
  }
  while (true) {
    switch (parseReply(buffer_, reply, error)) {
      case ReplyParse::Complete:
        return IoStatus::Ok;
      case ReplyParse::Garbage:
        return IoStatus::Garbage;
      case ReplyParse::NeedMore:
        break;
    }
    if (IoStatus s = fill(deadline, error); s != IoStatus::Ok) return s;
  }
}

std::string unsendable(const std::string& text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", c);
      return std::string("refusing to send a command with character ") + hex;
    }
  return "";
}

IoStatus SmtpConnection::send(const std::string& line, Deadline deadline, std::string* error) {
  if (std::string why = unsendable(line); !why.empty()) {
    *error = why;
    return IoStatus::Error;
  }
  std::string data = line + "\r\n";
  size_t sent = 0;
  while (sent < data.size()) {
    pollfd p{fd_, POLLOUT, 0};
    int n = poll(&p, 1, remainingMs(deadline));
    if (n == 0) {
      *error = "timed out sending to the server";
      return IoStatus::Timeout;
    }
    ssize_t w = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EAGAIN) continue;
      *error = std::strerror(errno);
      return errno == EPIPE || errno == ECONNRESET ? IoStatus::Closed : IoStatus::Error;
    }
    sent += static_cast<size_t>(w);
  }
  return IoStatus::Ok;
}

}  // namespace mxguard::smtp
