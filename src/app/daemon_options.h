// daemon_options.h - the daemon configuration (mxguard.conf) and the options both executables
// share (--config, --policy, --dns): read through Boost.Program_options, command line over file.
// Must not: open sockets or resolvers; it only describes what to start.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/option_reference.h"

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

// The built-in paths, in SYSCONFDIR/mxguard (CMake: /etc/mxguard for prefix /usr).
std::string builtInConfigFile();  // ".../mxguard/mxguard.conf": read when no --config is given
std::string builtInPolicyFile();  // ".../mxguard/policy.conf": when neither file nor flag names one

// Where a value that a start-up check may refuse was set: mxguard.conf's FILE:LINE, or a
// command-line option (file empty), so the error can name it.
struct OptionOrigin {
  std::string file;    // "" = the command line
  int line = 0;        //
  std::string option;  // "socket", "record.file" (in the file); "--socket" (command line)
};

struct DaemonOptions {
  std::string configFile;  // "" = built-in defaults only (--config '', or the default is absent)
  // Read when no --config is given; when it does not exist, the built-in defaults are used and
  // missingDefaultConfig names it (the daemon says so once). Tests point it elsewhere.
  std::string defaultConfigFile = builtInConfigFile();
  std::string missingDefaultConfig;
  std::string policyFile = builtInPolicyFile();
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
  bool dumpConfig = false;  // print what the files set (postconf -n), then exit
  // By option name ("socket", "user", "socket_owner", "socket_group", "pidfile", "record.file"):
  // set for the values the file or the command line gave; checkStartupOptions names them.
  std::map<std::string, OptionOrigin> origins;
};

// Reads `path` (an mxguard.conf) into `options`; throws config::ConfigError.
void applyDaemonConfigFile(const std::string& path, DaemonOptions& options);
// Parses mxguard's command line, reads --config (else defaultConfigFile, if it exists), applies
// the command line over it, then checkStartupOptions. Throws UsageError for a bad command line
// (a stray argument, a bad value given there) and config::ConfigError for a bad file.
// Sets *helpText and returns false when --help/--version was asked for.
bool parseDaemonCommandLine(int argc, char** argv, DaemonOptions& options, std::string* helpText);

// What would stop a start before it serves, found without binding or changing anything: the
// socket's form (unix:/ABSOLUTE/PATH or local:..., inet:PORT@HOST, inet6:PORT@HOST; the HOST an
// address or a name that resolves), that `user` and socket_owner are users and socket_group a
// group, that the pid file and the [record] file are not a directory or other non-file. A value
// from mxguard.conf fails as config::ConfigError at its FILE:LINE; one from the command line as
// UsageError naming the option ("--socket: ..."). Not for mxguard-check, which serves nothing.
void checkStartupOptions(const DaemonOptions& options);

// Why `socket` is not a milter socket mxguard can listen on ("" = fine).
std::string socketProblem(const std::string& socket);

std::string defaultHostname();

// The option specs of mxguard.conf, a section each ("" = before any [section]); read through
// app/option_schema.h.
std::vector<config::SchemaSection> daemonConfigSections();

}  // namespace mxguard::app
