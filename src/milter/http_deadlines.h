// http_deadlines.h - a whole-request deadline for the /metrics listener, which libmicrohttpd lacks
// (its timeout is per read, so a client trickling a byte a second stays for ever): a connection
// that has not had its answer within the deadline (from its accept, or from its previous answer on
// a kept-alive connection) is shut down, and past `maxWaiting` such connections the oldest one is
// shut down at once, so slow clients cannot keep a scrape out.
// Must not: close a descriptor (the HTTP library owns them: shutdown only, and only between its
// "opened" and "closed" notifications, which it makes before closing the socket).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace mxguard::milter {

class HttpDeadlines {
 public:
  HttpDeadlines(std::chrono::milliseconds deadline, size_t maxWaiting);
  ~HttpDeadlines();  // stops the sweeping thread
  HttpDeadlines(const HttpDeadlines&) = delete;
  HttpDeadlines& operator=(const HttpDeadlines&) = delete;

  // The connection's socket; `key` identifies it until closed().
  void opened(const void* key, int fd);
  // Its request was answered: the next one on the same connection gets a fresh deadline.
  void answered(const void* key);
  void closed(const void* key);
  // Connections shut down so far (past the deadline, or pushed out by newer ones).
  size_t cutOff() const;

 private:
  struct Entry {
    int fd;
    std::chrono::steady_clock::time_point since;
    bool shut = false;
  };
  void shutDown(Entry& e);  // mutex_ held
  void sweep();

  const std::chrono::milliseconds deadline_;
  const size_t maxWaiting_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  size_t cutOff_ = 0;
  std::unordered_map<const void*, Entry> open_;
  std::thread sweeper_;
};

}  // namespace mxguard::milter
