// metrics_http.h - the optional Prometheus listener: libmicrohttpd on its own polling thread,
// GET /metrics answered with metrics::render(), 404 for other paths, 405 for other methods; every
// request has a whole-request deadline (http_deadlines.h), so slow clients cannot keep scrapes out.
// Must not: be linked into core or stages, or serve anything but the metrics (it has no auth).
#pragma once

#include <memory>
#include <string>

struct MHD_Daemon;

namespace mxguard::milter {

class HttpDeadlines;

class MetricsHttpServer {
 public:
  // Binds address:port (an IP literal) and starts serving; nullptr with *error set on failure.
  static std::unique_ptr<MetricsHttpServer> start(const std::string& address, int port,
                                                  std::string* error);
  ~MetricsHttpServer();  // stops the listener and its thread
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

 private:
  MetricsHttpServer();
  MHD_Daemon* daemon_ = nullptr;
  std::unique_ptr<HttpDeadlines> deadlines_;  // outlives daemon_ (its callbacks use it)
};

}  // namespace mxguard::milter
