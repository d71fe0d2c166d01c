// metrics_http.cpp - libmicrohttpd with its internal polling thread (epoll on Linux, so no
// FD_SETSIZE limit however many milter connections the process holds); each scrape renders the
// registry into a fresh buffer that MHD copies.
// Must not: take the process's signals (daemon.cpp turns those into reload/stop on the main
// thread), or let a slow or hostile client hold a connection past the request deadline.
#include "milter/metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "base/metrics.h"
#include "base/strings.h"
#include "core/reply.h"
#include "milter/http_deadlines.h"

namespace mxguard::milter {
namespace {

// Prometheus scrapes one at a time and sends its request at once. Past kMaxWaiting connections
// waiting for their answer the oldest is cut, and none waits longer than kRequestDeadline, so 20
// clients trickling their requests cannot keep a scrape out (they could, with 8 slots held by a
// per-read timeout that each trickled byte restarted). kMaxConnections only bounds descriptors.
constexpr unsigned kMaxConnections = 64;
constexpr size_t kMaxWaiting = 8;
constexpr std::chrono::seconds kRequestDeadline{3};

void logFromMhd(void*, const char* format, va_list args) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, format, args);
  logMessage(LogLevel::Warning, "metrics listener: " + sanitize(trimLineEnd(buf)));
}

MHD_Result reply(MHD_Connection* connection, unsigned status, const std::string& body,
                 const char* contentType) {
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (!response) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, contentType);
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  MHD_Result rc = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return rc;
}

MHD_Result onRequest(void*, MHD_Connection* connection, const char* url, const char* method,
                     const char*, const char*, size_t*, void**) {
  try {
    // HEAD is GET without a body (MHD leaves the body out itself).
    if (std::strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        std::strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
      return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed; use GET\n",
                   "text/plain; charset=utf-8");
    if (std::strcmp(url, "/metrics") != 0)
      return reply(connection, MHD_HTTP_NOT_FOUND, "not found; metrics are at /metrics\n",
                   "text/plain; charset=utf-8");
    return reply(connection, MHD_HTTP_OK, metrics::render(),
                 "text/plain; version=0.0.4; charset=utf-8");
  } catch (const std::exception& e) {
    // Out of memory while rendering: drop this connection, keep the daemon.
    logMessage(LogLevel::Error, std::string("metrics listener: ") + e.what());
    return MHD_NO;
  }
}

void onConnection(void* cls, MHD_Connection* connection, void**,
                  MHD_ConnectionNotificationCode code) {
  auto* deadlines = static_cast<HttpDeadlines*>(cls);
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    deadlines->closed(connection);
    return;
  }
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info) deadlines->opened(connection, info->connect_fd);
}

void onCompleted(void* cls, MHD_Connection* connection, void**, MHD_RequestTerminationCode) {
  static_cast<HttpDeadlines*>(cls)->answered(connection);
}

}  // namespace

MetricsHttpServer::MetricsHttpServer()
    : deadlines_(std::make_unique<HttpDeadlines>(kRequestDeadline, kMaxWaiting)) {}

std::unique_ptr<MetricsHttpServer> MetricsHttpServer::start(const std::string& address, int port,
                                                            std::string* error) {
  sockaddr_storage ss{};
  bool v6 = address.find(':') != std::string::npos;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) != 1) {
      *error = "invalid metrics address " + address;
      return nullptr;
    }
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, address.c_str(), &a->sin_addr) != 1) {
      *error = "invalid metrics address " + address;
      return nullptr;
    }
  }
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
  // The polling thread inherits this mask: it must never be the thread a SIGTERM lands on.
  // The deadlines' sweeping thread too: made here, with every signal blocked.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  HttpDeadlines* deadlines = server->deadlines_.get();
  MHD_Daemon* d = MHD_start_daemon(
      flags, static_cast<uint16_t>(port), nullptr, nullptr, &onRequest, nullptr,
      // The logger first: MHD reports options parsed before it on stderr.
      MHD_OPTION_EXTERNAL_LOGGER, &logFromMhd, nullptr, MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&ss), MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
      // A backstop only: the deadline above cuts a slow client first.
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(kRequestDeadline.count()) + 1,
      MHD_OPTION_NOTIFY_CONNECTION, &onConnection, deadlines, MHD_OPTION_NOTIFY_COMPLETED,
      &onCompleted, deadlines, MHD_OPTION_END);
  int saved = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!d) {
    std::string where =
        v6 ? "[" + address + "]:" + std::to_string(port) : address + ":" + std::to_string(port);
    *error = "cannot listen for metrics on " + where + " (" + std::strerror(saved) +
             "; in use, or not an address of this host?)";
    return nullptr;
  }
  server->daemon_ = d;
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (daemon_) MHD_stop_daemon(daemon_);
}

}  // namespace mxguard::milter
