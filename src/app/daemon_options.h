// daemon_options.h - the daemon configuration (mxguard.conf) and the options both executables
// share (--config, --policy, --dns): read through Boost.Program_options, command line over file.
// Must not: open sockets or resolvers; it only describes what to start.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace mxguard::app {

// Bad command line: the caller prints it with a usage hint and exits 64 (EX_USAGE).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DnsOptions {
  std::vector<std::string> forward;         // "host@port"; empty = embedded recursion
  std::vector<std::string> passLocalZones;  // built-in local zones to hand to the forwarders
  bool forwardPrivateReverse = true;        // with forwarders: private/documentation PTR zones too
  size_t cacheEntries = 20000;              // dns::CachingResolver in front of libunbound; 0 = off
  size_t cacheMegabytes = 64;               // ... and a bound on the bytes its answers take
};

struct StoreOptions {
  std::string backend = "memory";  // memory | redis
  size_t maxEntries = 100000;      // memory: bound on entries
  std::string redisHost = "127.0.0.1";
  int redisPort = 6379;
  std::string redisPassword;
  int redisDatabase = 0;
  long timeoutMs = 200;  // redis: connect and command timeout
  size_t poolSize = 8;   // redis: connections
};

// [metrics]: the Prometheus listener (GET /metrics); off unless `listen` is set.
struct MetricsOptions {
  std::string listen;   // as written: "127.0.0.1:9102", "[::1]:9102"; "" = no listener
  std::string address;  // the IP literal of `listen`, canonical
  int port = 0;
  bool allowRemote = false;  // permit a non-loopback `listen`
};

// [record]: transactions appended as JSON lines for `mxguard-check --replay`; off unless `file`.
struct RecordOptions {
  std::string file;      // "" = not recording
  bool headers = false;  // also record the header fields (never the body)
};

struct DaemonOptions {
  std::string configFile;  // "" = built-in defaults only
  std::string policyFile = "/etc/mxguard/policy.conf";
  // A unix socket: libmilter trusts whatever reaches it, and over TCP every local user could.
  std::string socket = "unix:/run/mxguard/mxguard.sock";
  DnsOptions dns;
  StoreOptions store;
  MetricsOptions metrics;
  RecordOptions record;
  bool foreground = false;
  std::string user;            // drop privileges to this user after binding
  bool allowRoot = false;      // serve as root when still root after that (refused otherwise)
  std::string socketOwner;     // unix socket: "" = `user`
  std::string socketGroup;     // unix socket: "" = the owner's primary group
  unsigned socketMode = 0660;  // unix socket permissions
  std::string pidfile;
  std::string hostname;             // "" = gethostname()
  long milterTimeoutSeconds = 300;  // libmilter's per-read timeout
  unsigned maxConnections = 1000;   // SMTP connections at once; the next gets 421 4.7.0
  bool checkConfig = false;
};

// Reads `path` (an mxguard.conf) into `options`; throws config::ConfigError.
void applyDaemonConfigFile(const std::string& path, DaemonOptions& options);
// Parses mxguard's command line, reads --config if given, applies the command line over it.
// Throws UsageError for a bad command line and config::ConfigError for a bad file.
// Sets *helpText and returns false when --help/--version was asked for.
bool parseDaemonCommandLine(int argc, char** argv, DaemonOptions& options, std::string* helpText);

std::string defaultHostname();

}  // namespace mxguard::app
