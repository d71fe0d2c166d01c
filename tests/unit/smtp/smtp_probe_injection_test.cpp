// smtp_probe_injection_test.cpp - the probe never writes a command carrying CR, LF or another
// control byte (issue 28: a sender "a\r\nDATA" made the probed server receive a message from us),
// checked against a one-connection SMTP server on loopback that records every line it receives.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "smtp/smtp_connection.h"
#include "smtp/smtp_probe.h"

namespace mxguard::smtp {
namespace {

// Answers 220, then 250 to every line until QUIT (221); counts connections, keeps the lines.
class RecordingServer {
 public:
  RecordingServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 4);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RecordingServer() {
    finish();
    ::close(fd_);
  }
  // The lines received so far, after the server thread has finished with the connection.
  std::vector<std::string> finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return lines_;
  }
  int port = 0;
  std::atomic<int> connections{0};

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections;
      talk(c);
      ::close(c);
    }
  }
  void talk(int c) {
    auto say = [&](const char* s) { (void)!::write(c, s, strlen(s)); };
    say("220 test ESMTP\r\n");
    std::string buffer;
    char buf[1024];
    while (true) {
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) return;
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      buffer.append(buf, static_cast<size_t>(n));
      for (size_t eol; (eol = buffer.find("\r\n")) != std::string::npos;) {
        std::string line = buffer.substr(0, eol);
        buffer.erase(0, eol + 2);
        lines_.push_back(line);
        if (line == "QUIT") return say("221 bye\r\n");
        say("250 ok\r\n");
      }
    }
  }
  int fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::vector<std::string> lines_;
};

ProbeOptions fastOptions(int port) {
  ProbeOptions o;
  o.port = port;
  o.heloName = "mx.example.net";
  o.connectTimeout = std::chrono::milliseconds(2000);
  o.commandTimeout = std::chrono::milliseconds(2000);
  o.totalTimeout = std::chrono::milliseconds(5000);
  return o;
}

TEST(SmtpProbeInjection, ARecipientWithCrLfIsNeverSent) {
  RecordingServer server;
  SmtpProbe probe;
  auto r = probe.probe("mx.sender.example", "127.0.0.1",
                       "a\r\nDATA\r\nSubject: x\r\n.\r\n@b.example", fastOptions(server.port));
  auto lines = server.finish();
  EXPECT_EQ(server.connections, 0) << "refused before connecting";
  EXPECT_TRUE(lines.empty()) << lines.front();
  EXPECT_EQ(r.outcome, ProbeOutcome::Unreachable);
  EXPECT_EQ(r.command, "RCPT TO");
  EXPECT_EQ(r.error, "refusing to send a command with character 0x0D");
}

TEST(SmtpProbeInjection, EveryCommandArgumentIsChecked) {
  RecordingServer server;
  SmtpProbe probe;
  auto helo = fastOptions(server.port);
  helo.heloName = "mx\nRSET";
  EXPECT_EQ(probe.probe("h", "127.0.0.1", "a@b.example", helo).error,
            "refusing to send a command with character 0x0A");
  auto sender = fastOptions(server.port);
  sender.verifySender = std::string("v\0x@example.net", 15);
  EXPECT_EQ(probe.probe("h", "127.0.0.1", "a@b.example", sender).error,
            "refusing to send a command with character 0x00");
  auto random = fastOptions(server.port);
  random.randomLocalPart = "r\r";
  EXPECT_EQ(probe.probe("h", "127.0.0.1", "a@b.example", random).error,
            "refusing to send a command with character 0x0D");
  server.finish();
  EXPECT_EQ(server.connections, 0);
}

TEST(SmtpProbeInjection, ACleanProbeStillTalks) {
  RecordingServer server;
  SmtpProbe probe;
  auto r = probe.probe("h", "127.0.0.1", "a@b.example", fastOptions(server.port));
  auto lines = server.finish();
  EXPECT_EQ(r.outcome, ProbeOutcome::Accepted);
  EXPECT_EQ(lines, (std::vector<std::string>{"EHLO mx.example.net", "MAIL FROM:<>",
                                             "RCPT TO:<a@b.example>", "QUIT"}));
}

// The connection itself, below the probe: one command is one line, whatever the caller passes.
TEST(SmtpConnectionSend, ACommandWithCrOrLfIsRefused) {
  RecordingServer server;
  SmtpConnection c;
  std::string error;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  ASSERT_EQ(c.connect("127.0.0.1", server.port, deadline, &error), IoStatus::Ok) << error;
  SmtpReply banner;
  ASSERT_EQ(c.readReply(deadline, &banner, &error), IoStatus::Ok) << error;
  EXPECT_EQ(c.send("RCPT TO:<a\r\nDATA>", deadline, &error), IoStatus::Error);
  EXPECT_EQ(error, "refusing to send a command with character 0x0D");
  EXPECT_EQ(c.send("NOOP\n", deadline, &error), IoStatus::Error);
  EXPECT_EQ(c.send("QUIT", deadline, &error), IoStatus::Ok);
  SmtpReply bye;
  c.readReply(deadline, &bye, &error);
  c.close();
  EXPECT_EQ(server.finish(), (std::vector<std::string>{"QUIT"}));
}

}  // namespace
}  // namespace mxguard::smtp
