// http_deadlines.cpp - one thread wakes every 100 ms and shuts down the connections past their
// deadline; opened() pushes out the oldest waiting connection when too many wait.
// Must not: take longer than a map walk under the lock (the HTTP thread waits for it).
#include "milter/http_deadlines.h"

#include <sys/socket.h>

namespace mxguard::milter {

HttpDeadlines::HttpDeadlines(std::chrono::milliseconds deadline, size_t maxWaiting)
    : deadline_(deadline), maxWaiting_(maxWaiting), sweeper_([this] { sweep(); }) {}

HttpDeadlines::~HttpDeadlines() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  sweeper_.join();
}

void HttpDeadlines::shutDown(Entry& e) {
  // The library sees end of file on its next poll and closes the connection itself.
  shutdown(e.fd, SHUT_RDWR);
  e.shut = true;
  ++cutOff_;
}

void HttpDeadlines::opened(const void* key, int fd) {
  std::lock_guard guard(mutex_);
  open_[key] = Entry{fd, std::chrono::steady_clock::now()};
  size_t waiting = 0;
  Entry* oldest = nullptr;
  for (auto& [k, e] : open_) {
    if (e.shut) continue;
    ++waiting;
    if (k != key && (!oldest || e.since < oldest->since)) oldest = &e;
  }
  if (waiting > maxWaiting_ && oldest) shutDown(*oldest);
}

void HttpDeadlines::answered(const void* key) {
  std::lock_guard guard(mutex_);
  if (auto it = open_.find(key); it != open_.end())
    it->second.since = std::chrono::steady_clock::now();
}

void HttpDeadlines::closed(const void* key) {
  std::lock_guard guard(mutex_);
  open_.erase(key);
}

size_t HttpDeadlines::cutOff() const {
  std::lock_guard guard(mutex_);
  return cutOff_;
}

void HttpDeadlines::sweep() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(100));
    auto now = std::chrono::steady_clock::now();
    for (auto& [key, e] : open_)
      if (!e.shut && now - e.since > deadline_) shutDown(e);
  }
}

}  // namespace mxguard::milter
