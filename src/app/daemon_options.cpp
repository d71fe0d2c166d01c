// daemon_options.cpp - Boost.Program_options for the command line; config::ConfigFile (Boost PO
// underneath) for mxguard.conf so that file errors name their line.
// Must not: exit the process; mains decide exit codes.
#include "app/daemon_options.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <sstream>

#include "app/option_schema.h"
#include "base/version.h"
#include "config/config_file.h"
#include "core/ip_address.h"

#ifndef MXGUARD_SYSCONFDIR
#error "MXGUARD_SYSCONFDIR comes from GNUInstallDirs in CMakeLists.txt"
#endif

namespace po = boost::program_options;

namespace mxguard::app {

std::string builtInConfigFile() {
  return MXGUARD_SYSCONFDIR "/mxguard/mxguard.conf";
}

std::string builtInPolicyFile() {
  return MXGUARD_SYSCONFDIR "/mxguard/policy.conf";
}

namespace {

using config::OptionKind;
using config::OptionSpec;

std::vector<OptionSpec> topSpecs() {
  return {
      {"socket", OptionKind::String, "unix:/run/mxguard/mxguard.sock", false, 0, 0,
       "milter socket: inet:PORT@HOST, inet6:PORT@HOST or unix:/path"},
      {"policy", OptionKind::String, builtInPolicyFile(), false, 0, 0, "policy file"},
      {"user", OptionKind::String, "", false, 0, 0, "drop privileges to this user after binding"},
      {"allow_root", OptionKind::Bool, "no", false, 0, 0,
       "serve as root when no `user` is set (refused otherwise)"},
      {"socket_owner", OptionKind::String, "", false, 0, 0,
       "owner of a unix socket; empty = `user`"},
      {"socket_group", OptionKind::String, "", false, 0, 0,
       "group of a unix socket, e.g. postfix; empty = the owner's primary group"},
      {"socket_mode", OptionKind::String, "0660", false, 0, 0,
       "permissions of a unix socket (octal); the MTA needs read and write"},
      {"pidfile", OptionKind::String, "", false, 0, 0, "write the daemon's pid here"},
      {"hostname", OptionKind::String, "", false, 0, 0,
       "this server's name (forged-HELO check, logs); empty = the system host name"},
      {"milter_timeout", OptionKind::Duration, "300s", false, 1000, 3600000,
       "how long libmilter waits for the MTA before dropping a connection"},
      {"max_connections", OptionKind::Int, "1000", false, 1, 100000,
       "SMTP connections served at once; the next is answered 421 4.7.0 (logged and counted)"},
  };
}

std::vector<OptionSpec> dnsSpecs() {
  return {
      {"forward", OptionKind::String, "", true, 0, 0,
       "forward queries to this server (host@port); repeat for more; none = own recursion"},
      {"pass_local_zone", OptionKind::String, "", true, 0, 0,
       "a built-in local zone of libunbound (e.g. 10.in-addr.arpa) to ask the forwarders about"},
      {"forward_private_reverse", OptionKind::Bool, "yes", false, 0, 0,
       "with forwarders: ask them for private and documentation reverse zones (10/8, ...)"},
      {"cache_entries", OptionKind::Int, "20000", false, 0, 10000000,
       "answers kept in mxguard's own cache for their TTL (at most 1 h); 0 = off"},
      {"cache_megabytes", OptionKind::Int, "64", false, 1, 65536,
       "bound on the memory those answers take (an answer over 64 KB is never kept)"},
  };
}

std::vector<OptionSpec> storeSpecs() {
  return {
      {"backend", OptionKind::String, "memory", false, 0, 0,
       "memory (this host only) or redis (shared by every MX host using the same Redis)"},
      {"max_entries", OptionKind::Int, "100000", false, 100, 100000000, "memory: bound on entries"},
      {"redis", OptionKind::String, "127.0.0.1:6379", false, 0, 0, "redis: host:port"},
      {"redis_password", OptionKind::String, "", false, 0, 0, "redis: AUTH password"},
      {"redis_database", OptionKind::Int, "0", false, 0, 15, "redis: database number"},
      {"timeout", OptionKind::Duration, "200ms", false, 10, 10000,
       "redis: connect and command timeout"},
      {"pool_size", OptionKind::Int, "8", false, 1, 256, "redis: connections kept open"},
  };
}

std::vector<OptionSpec> metricsSpecs() {
  return {
      {"listen", OptionKind::String, "", false, 0, 0,
       "serve GET /metrics (Prometheus) on ADDRESS:PORT, e.g. 127.0.0.1:9102; empty = off"},
      {"allow_remote", OptionKind::Bool, "no", false, 0, 0,
       "allow a listen address other than loopback (the endpoint has no authentication)"},
  };
}

// ADDRESS:PORT with an IP literal (IPv6 in brackets): no name lookup at start-up, and no
// ambiguity about which interface is exposed.
std::vector<OptionSpec> recordSpecs() {
  return {
      {"file", OptionKind::String, "", false, 0, 0,
       "append each finished transaction as a JSON line to FILE (for mxguard-check --replay); "
       "empty = off"},
      {"headers", OptionKind::Bool, "no", false, 0, 0,
       "also record the header fields (never the body)"},
  };
}

void applyMetrics(const config::Section& metrics, MetricsOptions& out) {
  out.allowRemote = metrics.getBool("allow_remote");
  out.listen = metrics.getString("listen");
  if (out.listen.empty()) return;
  const std::string& l = out.listen;
  std::string host, port;
  if (l.front() == '[') {
    auto close = l.find("]:");
    if (close != std::string::npos) host = l.substr(1, close - 1), port = l.substr(close + 2);
  } else if (auto colon = l.rfind(':'); colon != std::string::npos) {
    host = l.substr(0, colon), port = l.substr(colon + 1);
  }
  auto ip = host.find(':') != std::string::npos && l.front() != '[' ? std::nullopt
                                                                    : IpAddress::parse(host);
  long p = 0;
  if (!port.empty() && port.size() <= 5 &&
      port.find_first_not_of("0123456789") == std::string::npos)
    p = std::stol(port);
  if (!ip || p <= 0 || p > 65535)
    metrics.fail("listen", "invalid address '" + l +
                               "' (use ADDRESS:PORT with an IP address, e.g. 127.0.0.1:9102 or "
                               "[::1]:9102)");
  static const auto v4Loopback = *Cidr::parse("127.0.0.0/8");
  static const auto v6Loopback = *Cidr::parse("::1");
  if (!out.allowRemote && !v4Loopback.contains(*ip) && !v6Loopback.contains(*ip))
    metrics.fail("listen", "'" + l +
                               "' is not a loopback address; /metrics has no authentication, so "
                               "set allow_remote = yes to expose it beyond this host");
  out.address = ip->toString();
  out.port = static_cast<int>(p);
}

// Remembers where the file set `option` of `section`, under `key` ("socket", "record.file").
void noteOrigin(DaemonOptions& options, const config::Section& section, std::string_view option,
                const std::string& key) {
  if (const config::Value* v = section.find(option)) options.origins[key] = {v->file, v->line, key};
}

// The command line set `key` by `flag` ("--socket").
void noteFlag(DaemonOptions& options, const std::string& key, const std::string& flag) {
  options.origins[key] = {"", 0, flag};
}

// Refuses the value of `key` where it was set: its FILE:LINE, or its command-line option.
[[noreturn]] void refuse(const DaemonOptions& options, const std::string& key,
                         const std::string& problem) {
  auto it = options.origins.find(key);
  if (it == options.origins.end()) throw config::ConfigError("built-in default", 0, key, problem);
  if (it->second.file.empty()) throw UsageError(it->second.option + ": " + problem);
  throw config::ConfigError(it->second.file, it->second.line, it->second.option, problem);
}

// What is at `path`, when it is there and is not a regular file (nor a symbolic link, which the
// daemon refuses itself when it opens the file, as the service user): "a directory", ...
std::string notAFile(const std::string& path) {
  struct stat st {};
  if (path.empty() || lstat(path.c_str(), &st) != 0) return "";
  if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) return "";
  return S_ISDIR(st.st_mode)    ? "a directory"
         : S_ISCHR(st.st_mode)  ? "a character device"
         : S_ISBLK(st.st_mode)  ? "a block device"
         : S_ISFIFO(st.st_mode) ? "a FIFO"
         : S_ISSOCK(st.st_mode) ? "a socket"
                                : "not a regular file";
}

// "the port" of inet:PORT@HOST: 1 to 65535 in decimal (libmilter's atoi would take "70000" as
// 4464 and "25x" as 25), or 0 when it is not that.
long parsePort(const std::string& text) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  long port = std::stol(text);
  return port <= 65535 ? port : 0;
}

// Whether HOST of inet:PORT@HOST (inet6:...) names an address of `family`: a literal, in
// brackets or not, or a name that resolves (libmilter resolves it when it binds).
bool hostResolves(const std::string& host, int family) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(family, host.substr(1, host.size() - 2).c_str(), buf) == 1;
  }
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return false;
  freeaddrinfo(found);
  return true;
}

}  // namespace

std::string socketProblem(const std::string& socket) {
  const std::string forms =
      "use unix:/PATH, inet:PORT@HOST or inet6:PORT@HOST, e.g. unix:/run/mxguard/mxguard.sock";
  auto invalid = [&](const std::string& why) { return "invalid socket '" + socket + "': " + why; };
  size_t colon = socket.find(':');
  if (colon == std::string::npos) return invalid("no type (" + forms + ")");
  std::string type = socket.substr(0, colon), rest = socket.substr(colon + 1);
  if (type == "unix" || type == "local") {
    const std::string use = " (use unix:/PATH, e.g. unix:/run/mxguard/mxguard.sock)";
    if (rest.empty()) return invalid("no path" + use);
    if (rest.front() != '/') return invalid("the path '" + rest + "' is not absolute" + use);
    if (rest.size() >= sizeof(sockaddr_un::sun_path))
      return invalid("the path has " + std::to_string(rest.size()) + " bytes, more than the " +
                     std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                     " of a unix socket's name");
    return "";
  }
  if (type != "inet" && type != "inet6")
    return invalid("unknown type '" + type + "' (" + forms + ")");
  const bool v6 = type == "inet6";
  const std::string use =
      " (use " + type + ":PORT@HOST, e.g. " + type + (v6 ? ":8891@[::1]" : ":8891@127.0.0.1") + ")";
  size_t at = rest.find('@');
  std::string port = rest.substr(0, at), host = at == std::string::npos ? "" : rest.substr(at + 1);
  if (parsePort(port) == 0)
    return invalid("the port '" + port + "' is not a number from 1 to 65535" + use);
  if (host.empty()) return invalid("no host; libmilter would listen on every address" + use);
  if (!hostResolves(host, v6 ? AF_INET6 : AF_INET))
    return invalid("the host '" + host + "' is not an " + (v6 ? "IPv6" : "IPv4") +
                   " address or a name that resolves to one" + use);
  return "";
}

void checkStartupOptions(const DaemonOptions& options) {
  if (std::string problem = socketProblem(options.socket); !problem.empty())
    refuse(options, "socket", problem);
  if (!options.user.empty() && !getpwnam(options.user.c_str()))
    refuse(options, "user", "no such user '" + options.user + "'");
  if (!options.socketOwner.empty() && !getpwnam(options.socketOwner.c_str()))
    refuse(options, "socket_owner", "no such user '" + options.socketOwner + "'");
  if (!options.socketGroup.empty() && !getgrnam(options.socketGroup.c_str()))
    refuse(options, "socket_group", "no such group '" + options.socketGroup + "'");
  if (std::string what = notAFile(options.pidfile); !what.empty())
    refuse(options, "pidfile",
           "'" + options.pidfile + "' is " + what + ", not a file (e.g. /run/mxguard/mxguard.pid)");
  if (std::string what = notAFile(options.record.file); !what.empty())
    refuse(options, "record.file",
           "'" + options.record.file + "' is " + what +
               ", not a file (e.g. /var/lib/mxguard/transactions.jsonl)");
}

std::string defaultHostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

void applyDaemonConfigFile(const std::string& path, DaemonOptions& options) {
  auto file = config::ConfigFile::load(path);
  for (const auto& name : file.sectionNames())
    if (!name.empty() && name != "dns" && name != "store" && name != "metrics" && name != "record")
      throw config::ConfigError(
          path, file.sectionLine(name), name,
          "unknown section [" + name + "]; known: [dns], [store], [metrics], [record]");
  auto top = file.section("", topSpecs());
  if (top.has("socket")) options.socket = top.getString("socket");
  if (top.has("policy")) options.policyFile = top.getString("policy");
  if (top.has("user")) options.user = top.getString("user");
  options.allowRoot = top.getBool("allow_root");
  // Whether these exist is checkStartupOptions' question (the daemon's, not mxguard-check's).
  options.socketOwner = top.getString("socket_owner");
  options.socketGroup = top.getString("socket_group");
  for (const char* key : {"socket", "user", "socket_owner", "socket_group", "pidfile"})
    noteOrigin(options, top, key, key);
  std::string mode = top.getString("socket_mode");
  if (mode.empty() || mode.size() > 4 || mode.find_first_not_of("01234567") != std::string::npos)
    top.fail("socket_mode", "invalid mode '" + mode + "' (octal, e.g. 0660)");
  options.socketMode = static_cast<unsigned>(std::stoul(mode, nullptr, 8));
  if ((options.socketMode & 0060) != 0060 && (options.socketMode & 0006) != 0006)
    top.fail("socket_mode", "mode " + mode +
                                " lets neither the group nor others connect (the MTA needs read "
                                "and write, e.g. 0660)");
  if (top.has("pidfile")) options.pidfile = top.getString("pidfile");
  if (top.has("hostname")) options.hostname = top.getString("hostname");
  options.milterTimeoutSeconds = top.getDuration("milter_timeout").count() / 1000;
  options.maxConnections = static_cast<unsigned>(top.getInt("max_connections"));
  auto dns = file.section("dns", dnsSpecs());
  for (const auto& v : dns.getAll("forward")) {
    if (v.text.empty() || v.text.find(' ') != std::string::npos)
      dns.fail(v, "forward",
               "invalid forwarder '" + v.text + "' (use host@port, e.g. 127.0.0.1@53)");
    options.dns.forward.push_back(v.text);
  }
  for (const auto& v : dns.getAll("pass_local_zone")) options.dns.passLocalZones.push_back(v.text);
  options.dns.forwardPrivateReverse = dns.getBool("forward_private_reverse");
  options.dns.cacheEntries = static_cast<size_t>(dns.getInt("cache_entries"));
  options.dns.cacheMegabytes = static_cast<size_t>(dns.getInt("cache_megabytes"));

  auto store = file.section("store", storeSpecs());
  options.store.backend = store.getString("backend");
  if (options.store.backend != "memory" && options.store.backend != "redis")
    store.fail("backend", "invalid value '" + options.store.backend + "' (use memory or redis)");
  options.store.maxEntries = static_cast<size_t>(store.getInt("max_entries"));
  std::string redis = store.getString("redis");
  auto colon = redis.rfind(':');
  long port = 0;
  try {
    port = colon == std::string::npos ? -1 : std::stol(redis.substr(colon + 1));
  } catch (const std::exception&) {
    port = -1;
  }
  if (colon == 0 || port <= 0 || port > 65535 ||
      redis.find_first_not_of("0123456789", colon + 1) != std::string::npos)
    store.fail("redis", "invalid address '" + redis + "' (use host:port, e.g. 127.0.0.1:6379)");
  options.store.redisHost = redis.substr(0, colon);
  options.store.redisPort = static_cast<int>(port);
  options.store.redisPassword = store.getString("redis_password");
  options.store.redisDatabase = static_cast<int>(store.getInt("redis_database"));
  options.store.timeoutMs = store.getDuration("timeout").count();
  options.store.poolSize = static_cast<size_t>(store.getInt("pool_size"));
  applyMetrics(file.section("metrics", metricsSpecs()), options.metrics);
  auto record = file.section("record", recordSpecs());
  options.record.file = record.getString("file");
  options.record.headers = record.getBool("headers");
  noteOrigin(options, record, "file", "record.file");
}

bool parseDaemonCommandLine(int argc, char** argv, DaemonOptions& options, std::string* helpText) {
  po::options_description desc("mxguard - inbound mail policy milter\nOptions");
  desc.add_options()("help,h", "show this help")("version", "show the version")(
      "config,c", po::value<std::string>(),
      ("daemon configuration file (default " + builtInConfigFile() +
       ", if it exists); '' = none, built-in defaults")
          .c_str())("policy,p", po::value<std::string>(),
                    "policy file (overrides the config file)")(
      "socket,s", po::value<std::string>(), "milter socket: inet:PORT@HOST or unix:/path")(
      "dns", po::value<std::vector<std::string>>()->composing(),
      "forward DNS to HOST@PORT (repeatable); default: embedded recursive resolver")(
      "foreground,f", po::bool_switch(), "stay in the foreground and log to stderr")(
      "user,u", po::value<std::string>(), "drop privileges to this user after binding")(
      "allow-root", po::bool_switch(), "serve as root when no --user is set (refused otherwise)")(
      "pidfile", po::value<std::string>(), "write the pid to this file")(
      "hostname", po::value<std::string>(), "this server's host name")(
      "check-config", po::bool_switch(), "validate configuration and policy, then exit (0 or 78)")(
      "dump-config", po::bool_switch(),
      "print the options the configuration and policy set (like postconf -n), then exit")(
      "defaults", po::bool_switch(),
      "with --dump-config: every option with its default instead (like postconf -d)")(
      "man", po::bool_switch(), "with --dump-config --defaults: as the mxguard-policy(5) page");
  po::variables_map vm;
  try {
    po::parsed_options parsed = po::command_line_parser(argc, argv).options(desc).run();
    // Without a positional description Boost keeps a stray word and store() drops it: a value
    // meant for an option ("--policy a.conf b.conf") would be ignored without a word.
    for (const auto& o : parsed.options)
      if (o.position_key >= 0)
        throw UsageError("unexpected argument '" + o.value.front() +
                         "' (mxguard takes options only; a value follows its option, as in "
                         "--policy FILE)");
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (vm.count("help") || vm.count("version")) {
    std::ostringstream out;
    if (vm.count("version"))
      out << "mxguard " << version() << "\n";
    else
      out << desc;
    *helpText = out.str();
    return false;
  }
  bool dump = vm["dump-config"].as<bool>(), defaults = vm["defaults"].as<bool>();
  if ((defaults && !dump) || (vm["man"].as<bool>() && !defaults))
    throw UsageError(defaults ? "--defaults goes with --dump-config"
                              : "--man goes with --dump-config --defaults");
  // The defaults are the schema's: no file is read, so they print on any machine.
  if (defaults) {
    *helpText = vm["man"].as<bool>() ? policyManPage() : dumpDefaults();
    return false;
  }
  if (vm.count("config")) {
    options.configFile = vm["config"].as<std::string>();  // '' = none
  } else {
    // The default file is optional (as /etc/opendkim.conf is to opendkim): absent, the built-in
    // defaults hold; present, it is read like any --config, and so are its errors.
    struct stat st {};
    bool absent =
        lstat(options.defaultConfigFile.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
    if (absent)
      options.missingDefaultConfig = options.defaultConfigFile;
    else
      options.configFile = options.defaultConfigFile;
  }
  if (!options.configFile.empty()) applyDaemonConfigFile(options.configFile, options);
  if (vm.count("policy")) options.policyFile = vm["policy"].as<std::string>();
  if (vm.count("socket")) options.socket = vm["socket"].as<std::string>();
  if (vm.count("dns")) options.dns.forward = vm["dns"].as<std::vector<std::string>>();
  if (vm.count("user")) options.user = vm["user"].as<std::string>();
  if (vm.count("pidfile")) options.pidfile = vm["pidfile"].as<std::string>();
  for (const char* key : {"socket", "user", "pidfile"})
    if (vm.count(key)) noteFlag(options, key, std::string("--") + key);
  if (vm["allow-root"].as<bool>()) options.allowRoot = true;
  if (vm.count("hostname")) options.hostname = vm["hostname"].as<std::string>();
  options.foreground = vm["foreground"].as<bool>();
  options.checkConfig = vm["check-config"].as<bool>();
  options.dumpConfig = dump;
  if (options.hostname.empty()) options.hostname = defaultHostname();
  checkStartupOptions(options);
  return true;
}

std::vector<config::SchemaSection> daemonConfigSections() {
  return {
      {"", "the daemon: socket, policy, privileges, limits", topSpecs()},
      {"dns", "the resolver every stage uses: own recursion or forwarders, and its cache",
       dnsSpecs()},
      {"store", "where shared results live: callout cache, rate limits, greylisting", storeSpecs()},
      {"metrics", "the Prometheus endpoint", metricsSpecs()},
      {"record", "the transaction record for mxguard-check --replay", recordSpecs()},
  };
}

}  // namespace mxguard::app
