// http_deadlines_test.cpp - the /metrics request deadline on socket pairs: a connection past its
// deadline is shut down (its peer reads end of file), one answered in time gets a fresh deadline,
// and past maxWaiting the oldest waiting connection is pushed out at once.
// Must not: depend on tight timing (deadlines are 300 ms, checks allow several sweeps).
#include "milter/http_deadlines.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace mxguard::milter {
namespace {

using namespace std::chrono_literals;

struct Pair {
  Pair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0); }
  ~Pair() {
    close(fd[0]);
    close(fd[1]);
  }
  // Whether the far end reads end of file within `wait`.
  bool cut(std::chrono::milliseconds wait) const {
    pollfd p{fd[1], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
    char c;
    return read(fd[1], &c, 1) == 0;
  }
  int fd[2];
};

TEST(HttpDeadlines, ShutsDownAConnectionPastItsDeadline) {
  HttpDeadlines deadlines(300ms, 8);
  Pair slow, answered;
  deadlines.opened(&slow, slow.fd[0]);
  deadlines.opened(&answered, answered.fd[0]);
  std::this_thread::sleep_for(200ms);
  deadlines.answered(&answered);  // a fresh deadline from here
  EXPECT_TRUE(slow.cut(1000ms));
  EXPECT_FALSE(answered.cut(0ms));
  EXPECT_TRUE(answered.cut(1000ms));  // idle after its answer: its next deadline passes too
  EXPECT_EQ(deadlines.cutOff(), 2u);
  deadlines.closed(&slow);
  deadlines.closed(&answered);
}

TEST(HttpDeadlines, PushesOutTheOldestWhenTooManyWait) {
  HttpDeadlines deadlines(10s, 2);
  Pair first, second, third;
  deadlines.opened(&first, first.fd[0]);
  std::this_thread::sleep_for(5ms);
  deadlines.opened(&second, second.fd[0]);
  std::this_thread::sleep_for(5ms);
  deadlines.opened(&third, third.fd[0]);
  EXPECT_TRUE(first.cut(0ms));
  EXPECT_FALSE(second.cut(0ms));
  EXPECT_FALSE(third.cut(0ms));
  EXPECT_EQ(deadlines.cutOff(), 1u);
  // A closed connection no longer counts: a new one fits without pushing anyone out.
  deadlines.closed(&first);
  deadlines.closed(&second);
  Pair fourth;
  deadlines.opened(&fourth, fourth.fd[0]);
  EXPECT_FALSE(third.cut(0ms));
  EXPECT_EQ(deadlines.cutOff(), 1u);
  deadlines.closed(&third);
  deadlines.closed(&fourth);
}

}  // namespace
}  // namespace mxguard::milter
