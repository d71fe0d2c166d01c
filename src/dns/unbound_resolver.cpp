// unbound_resolver.cpp - ub_resolve_async from any thread; ub_process on our event thread (poll
// on ub_fd and a wakeup pipe); each answer fills its batch slot and wakes the waiting caller.
// Must not: call ub_process from more than one thread, or block the event thread.
#include "dns/unbound_resolver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <unbound.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <stdexcept>

#include "base/metrics.h"
#include "dns/rdata_presentation.h"

namespace mxguard::dns {

struct UnboundResolver::Batch {
  std::mutex mutex;
  std::condition_variable done;
  std::vector<LookupResult> results;
  std::vector<bool> answered;
  size_t remaining = 0;
};

struct UnboundResolver::Slot {
  UnboundResolver* owner;
  std::shared_ptr<Batch> batch;  // keeps the batch alive for a late answer
  size_t index;
};

namespace {

constexpr int kRcodeServfail = 2;
constexpr int kRcodeNxdomain = 3;

bool validName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    size_t len = (dot == std::string::npos ? name.size() : dot) - start;
    if (len == 0 || len > 63) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

LookupResult convert(int err, ub_result* r) {
  LookupResult out;
  if (err != 0 || !r) {
    out.status = LookupStatus::TempFail;
    out.error = err ? ub_strerror(err) : "no result";
    return out;
  }
  out.ttl = r->ttl > 0 ? static_cast<uint32_t>(r->ttl) : 0;
  if (r->havedata) {
    out.status = LookupStatus::Ok;
    for (int i = 0; r->data[i]; ++i)
      if (auto record =
              presentRdata(r->qtype, reinterpret_cast<unsigned char*>(r->data[i]), r->len[i]))
        out.records.push_back(std::move(*record));
    if (out.records.empty()) {  // Ok promises a record: an answer of only garbage is a failure
      out.status = LookupStatus::PermFail;
      out.error = "malformed answer";
    }
    return out;
  }
  switch (r->rcode) {
    case 0:
      out.status = LookupStatus::NoData;
      break;
    case kRcodeNxdomain:
      out.status = LookupStatus::NotFound;
      break;
    case kRcodeServfail:
      out.status = LookupStatus::TempFail;
      out.error = "SERVFAIL";
      break;
    default:
      out.status = LookupStatus::PermFail;
      out.error = "rcode " + std::to_string(r->rcode);
  }
  return out;
}

void check(int rc, const std::string& what) {
  if (rc != 0) throw std::runtime_error(what + ": " + ub_strerror(rc));
}

}  // namespace

const std::vector<std::string>& privateReverseZones() {
  static const std::vector<std::string> zones = [] {
    std::vector<std::string> z{
        "10.in-addr.arpa",      "168.192.in-addr.arpa",     "254.169.in-addr.arpa",
        "2.0.192.in-addr.arpa", "100.51.198.in-addr.arpa",  "113.0.203.in-addr.arpa",
        "d.f.ip6.arpa",         "8.b.d.0.1.0.0.2.ip6.arpa", "8.e.f.ip6.arpa",
        "9.e.f.ip6.arpa",       "a.e.f.ip6.arpa",           "b.e.f.ip6.arpa"};
    for (int i = 16; i <= 31; ++i) z.push_back(std::to_string(i) + ".172.in-addr.arpa");
    for (int i = 64; i <= 127; ++i) z.push_back(std::to_string(i) + ".100.in-addr.arpa");
    return z;
  }();
  return zones;
}

std::shared_ptr<UnboundResolver> UnboundResolver::create(const UnboundOptions& options) {
  std::shared_ptr<UnboundResolver> r(new UnboundResolver());
  r->ctx_ = ub_ctx_create();
  if (!r->ctx_) throw std::runtime_error("libunbound: cannot create a resolver context");
  // Answers come from a libunbound thread, not a forked process (we are multi-threaded).
  check(ub_ctx_async(r->ctx_, 1), "libunbound async mode");
  // libunbound's own default lets only 16 queries be outstanding at once, which would split
  // one connection's blocklist lookups into two round trips; a busy MX needs far more.
  check(ub_ctx_set_option(r->ctx_, "outgoing-range:", "1024"), "outgoing-range");
  check(ub_ctx_set_option(r->ctx_, "num-queries-per-thread:", "512"), "num-queries-per-thread");
  for (const auto& f : options.forwarders) {
    std::string host = f.substr(0, f.find('@'));
    if (f.empty() || f.find(' ') != std::string::npos ||
        (f.find('@') != std::string::npos &&
         f.substr(f.find('@') + 1).find_first_not_of("0123456789") != std::string::npos) ||
        f.back() == '@') {
      throw std::runtime_error("invalid forwarder '" + f + "' (use host@port, e.g. 127.0.0.1@53)");
    }
    in6_addr a6;
    in_addr a4;
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1 && inet_pton(AF_INET6, host.c_str(), &a6) != 1)
      throw std::runtime_error("invalid forwarder '" + f + "': '" + host +
                               "' is not an IP address");
    check(ub_ctx_set_fwd(r->ctx_, f.c_str()), "forwarder '" + f + "'");
  }
  if (!options.forwarders.empty()) {
    // A forwarder on loopback (a local resolver, or the test DNS server) is allowed.
    check(ub_ctx_set_option(r->ctx_, "do-not-query-localhost:", "no"), "do-not-query-localhost");
    // The forwarders are the only servers there are: after an outage keep probing them rather
    // than wait out libunbound's back-off (60 s outage, 2026-12-02: the last deferral came 3.97 s
    // after nsd was back without this, 2.81 s with it; tests/reliability/README.md).
    check(ub_ctx_set_option(r->ctx_, "infra-keep-probing:", "yes"), "infra-keep-probing");
    // Still, after a long outage libunbound's backed-off timeout kept mail deferred for more
    // than 9 s after the forwarder was back (60 s outage, 50 sessions). Forgetting a server's
    // round-trip state after 3 s makes it try afresh: recovered at once in the same test.
    // (infra-cache-max-rtt 2000 instead made libunbound never use the forwarder again.)
    check(ub_ctx_set_option(r->ctx_, "infra-host-ttl:", "3"), "infra-host-ttl");
  }
  std::vector<std::string> zones = options.passLocalZones;
  if (!options.forwarders.empty() && options.forwardPrivateReverse)
    zones.insert(zones.end(), privateReverseZones().begin(), privateReverseZones().end());
  for (const auto& z : zones) {
    // Removing a zone that is not built in is harmless; libunbound reports no error for it.
    int rc = ub_ctx_zone_remove(r->ctx_, z.c_str());
    if (rc != 0 && rc != UB_NOERROR) check(rc, "local zone '" + z + "'");
  }
  if (pipe2(r->wakeup_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe failed");
  r->thread_ = std::thread([raw = r.get()] { raw->eventLoop(); });
  return r;
}

UnboundResolver::~UnboundResolver() {
  if (thread_.joinable()) {
    char c = 'q';
    [[maybe_unused]] auto n = write(wakeup_[1], &c, 1);
    thread_.join();
  }
  if (ctx_) ub_ctx_delete(ctx_);
  for (Slot* s : slots_) delete s;  // queries never answered: no callback will come now
  for (int fd : wakeup_)
    if (fd >= 0) close(fd);
}

void UnboundResolver::eventLoop() {
  while (true) {
    pollfd fds[2] = {{ub_fd(ctx_), POLLIN, 0}, {wakeup_[0], POLLIN, 0}};
    int n = poll(fds, 2, 1000);
    if (n < 0) continue;
    if (fds[1].revents) return;
    if (fds[0].revents) ub_process(ctx_);
  }
}

void UnboundResolver::forget(Slot* slot) {
  std::lock_guard guard(slotsMutex_);
  slots_.erase(slot);
}

void UnboundResolver::onAnswer(void* arg, int err, ub_result* result) {
  auto* slot = static_cast<Slot*>(arg);
  LookupResult converted = convert(err, result);
  if (result) ub_resolve_free(result);
  {
    std::lock_guard guard(slot->batch->mutex);
    if (!slot->batch->answered[slot->index]) {
      slot->batch->results[slot->index] = std::move(converted);
      slot->batch->answered[slot->index] = true;
      --slot->batch->remaining;
    }
  }
  slot->batch->done.notify_all();
  slot->owner->forget(slot);
  delete slot;
}

std::vector<LookupResult> UnboundResolver::lookupAll(const std::vector<Query>& queries,
                                                     std::chrono::milliseconds timeout) {
  metrics::Timer timer(metrics::Dependency::Dns);  // the whole batch: what the caller waits for
  auto batch = std::make_shared<Batch>();
  batch->results.resize(queries.size());
  batch->answered.assign(queries.size(), false);
  batch->remaining = queries.size();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (size_t i = 0; i < queries.size(); ++i) {
    const auto& q = queries[i];
    if (!validName(q.name)) {
      std::lock_guard guard(batch->mutex);
      batch->results[i] = {LookupStatus::PermFail, {}, 0, "invalid name"};
      batch->answered[i] = true;
      --batch->remaining;
      continue;
    }
    auto* slot = new Slot{this, batch, i};
    {
      std::lock_guard guard(slotsMutex_);
      slots_.insert(slot);
    }
    int id = 0;
    int rc = ub_resolve_async(ctx_, q.name.c_str(), static_cast<int>(q.type), 1 /* IN */, slot,
                              &UnboundResolver::onAnswer, &id);
    if (rc != 0) {
      forget(slot);
      delete slot;
      std::lock_guard guard(batch->mutex);
      batch->results[i] = {LookupStatus::TempFail, {}, 0, ub_strerror(rc)};
      batch->answered[i] = true;
      --batch->remaining;
    }
  }
  std::unique_lock lock(batch->mutex);
  batch->done.wait_until(lock, deadline, [&] { return batch->remaining == 0; });
  std::vector<LookupResult> out = batch->results;
  for (size_t i = 0; i < out.size(); ++i)
    if (!batch->answered[i])
      out[i] = {LookupStatus::TempFail,
                {},
                0,
                "timed out after " + std::to_string(timeout.count()) + " ms"};
  return out;
}

}  // namespace mxguard::dns
