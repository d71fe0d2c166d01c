// daemon.cpp - libmilter's own signal thread treats SIGHUP as "stop", so mxguard handles signals
// itself: smfi_main runs in a thread with HUP/TERM/INT blocked; the main thread keeps them
// unblocked (Linux delivers a process signal to the main thread when it accepts it) and turns
// them into reload or smfi_stop().
// Must not: reload on a signal handler's stack (the handler only writes to a pipe).
#include "milter/daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "app/policy_holder.h"
#include "app/policy_loader.h"
#include "app/resolver_factory.h"
#include "app/store_factory.h"
#include "app/transaction_log.h"
#include "base/counters.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/version.h"
#include "config/config_error.h"
#include "milter/deferred_recorder.h"
#include "milter/log_sinks.h"
#include "milter/metrics_http.h"
#include "milter/milter_adapter.h"
#include "milter/open_files_limit.h"
#include "milter/pid_file.h"
#include "milter/privileges.h"
#include "milter/service_notify.h"

namespace mxguard::milter {
namespace {

constexpr int kExitOsErr = 71;       // EX_OSERR
constexpr int kExitCantCreate = 73;  // EX_CANTCREAT: the pid file
int gSignalPipe[2] = {-1, -1};

void onSignal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  int saved = errno;
  [[maybe_unused]] auto n = write(gSignalPipe[1], &b, 1);
  errno = saved;
}

// libmilter owns the listening socket and does not expose it, so find it: it is the one socket
// of ours in the listening state. TCP_NODELAY set on it is inherited by accepted sockets, which
// avoids Nagle + delayed-ACK stalls of ~40 ms per reply.
void setNoDelayOnListeners() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return;
  while (dirent* e = readdir(dir)) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) continue;
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  closedir(dir);
}

// SIGUSR1: every event counter (observed rejections, dependency failures, misconfigured
// blocklist answers, internal errors) in one log line.
void logCounters() {
  std::string line = "counters:";
  for (const auto& [name, value] : countersSnapshot())
    line += " " + name + "=" + std::to_string(value);
  if (line == "counters:") line += " (none yet)";
  logMessage(LogLevel::Info, line);
}

bool daemonize() {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid > 0) _exit(0);
  setsid();
  if (fork() > 0) _exit(0);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
  }
  return true;
}

// The steps of runDaemon. Each that can fail returns nullopt to go on, or the exit code the
// daemon stops with (the reason logged).
using Stop = std::optional<int>;

// Threads (the resolver's, libmilter's) must start after the fork: daemonize first.
Stop startLogging(const app::DaemonOptions& options) {
  if (options.foreground) {
    logToStderr();
    return std::nullopt;
  }
  logToSyslog();
  if (daemonize()) return std::nullopt;
  logMessage(LogLevel::Error, std::string("cannot fork: ") + std::strerror(errno));
  return kExitOsErr;
}

// The [record] file is opened later, by openRecordFile (see deferred_recorder.h).
Stop loadFirstPolicy(const app::DaemonOptions& options, app::PolicyLoadOptions& loadOptions,
                     std::unique_ptr<app::PolicyHolder>& holder,
                     std::shared_ptr<DeferredRecorder>& recorder) {
  try {
    loadOptions.resolver = app::makeResolver(options.dns, options.configFile);
    loadOptions.store = app::makeStore(options.store);
    loadOptions.ourHostname = options.hostname;
    if (!options.record.file.empty())
      loadOptions.recorder = recorder = std::make_shared<DeferredRecorder>(
          options.record.file, options.record.headers, options.configFile);
    holder =
        std::make_unique<app::PolicyHolder>(app::loadPolicyFile(options.policyFile, loadOptions));
  } catch (const config::ConfigError& e) {
    logMessage(LogLevel::Error, e.what());
    return config::kExitConfig;
  }
  return std::nullopt;
}

// As the service user, after privileges are dropped.
Stop openRecordFile(DeferredRecorder* recorder) {
  if (!recorder) return std::nullopt;
  try {
    recorder->open();
  } catch (const config::ConfigError& e) {
    logMessage(LogLevel::Error, e.what());
    return config::kExitConfig;
  }
  return std::nullopt;
}

// As the service user, after privileges are dropped (see pid_file.h).
Stop writePidfile(const app::DaemonOptions& options) {
  std::string error;
  if (options.pidfile.empty() || writePidFile(options.pidfile, &error)) return std::nullopt;
  logMessage(LogLevel::Error, error);
  return kExitCantCreate;
}

// Why a unix socket could not be bound, when the reason is its directory.
std::string socketDirectoryProblem(const std::string& path) {
  std::string dir = path.substr(0, path.find_last_of('/'));
  struct stat st {};
  if (dir.empty() || stat(dir.c_str(), &st) == 0) return "";
  return ": its directory " + dir + " does not exist (systemd's RuntimeDirectory=mxguard makes " +
         "/run/mxguard; otherwise: install -d -o mxguard -g mxguard -m 0750 " + dir + ")";
}

Stop openListener(const app::DaemonOptions& options) {
  std::string conn = options.socket;
  if (smfi_setconn(conn.data()) != MI_SUCCESS ||
      smfi_register(makeFilterDescription()) != MI_SUCCESS) {
    logMessage(LogLevel::Error, "libmilter refused socket '" + options.socket + "'");
    return kExitOsErr;
  }
  smfi_settimeout(static_cast<int>(options.milterTimeoutSeconds));
  smfi_setbacklog(128);
  // Closed to others until applySocketPermissions sets the configured mode.
  mode_t oldUmask = umask(0077);
  bool listening = smfi_opensocket(true) == MI_SUCCESS;
  umask(oldUmask);
  if (!listening) {
    std::string why = socketDirectoryProblem(unixSocketPath(options.socket));
    logMessage(LogLevel::Error, "cannot listen on " + options.socket +
                                    (why.empty() ? " (in use, or a bad address?)" : why));
    return kExitOsErr;
  }
  setNoDelayOnListeners();
  return std::nullopt;
}

// Before dropping privileges (a port below 1024 needs root); stopped when `server` goes.
Stop startMetrics(const app::DaemonOptions& options, std::unique_ptr<MetricsHttpServer>& server) {
  const auto& m = options.metrics;
  if (m.listen.empty()) return std::nullopt;
  std::string error;
  if (!(server = MetricsHttpServer::start(m.address, m.port, &error))) {
    logMessage(LogLevel::Error, error);
    return kExitOsErr;
  }
  logMessage(LogLevel::Info, "serving metrics on http://" + m.listen + "/metrics");
  return std::nullopt;
}

// The socket's owner and mode first (they may need root), then the configured user.
Stop dropPrivilegesAsConfigured(const app::DaemonOptions& options) {
  std::string error;
  if (std::string path = unixSocketPath(options.socket); !path.empty()) {
    SocketPermissions perms{options.socketOwner, options.socketGroup,
                            static_cast<mode_t>(options.socketMode)};
    if (!applySocketPermissions(path, perms, options.user, &error)) {
      logMessage(LogLevel::Error, error);
      return kExitOsErr;
    }
  }
  if (!options.user.empty() && !dropPrivileges(options.user, &error)) {
    logMessage(LogLevel::Error, error);
    return kExitOsErr;
  }
  if (std::string refusal = rootRefusal(options.allowRoot); !refusal.empty()) {
    logMessage(LogLevel::Error, refusal);
    return config::kExitConfig;
  }
  return std::nullopt;
}

constexpr int kHandledSignals[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1};

Stop installSignalHandlers() {
  if (pipe2(gSignalPipe, O_CLOEXEC | O_NONBLOCK) != 0) return kExitOsErr;
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : kHandledSignals) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return std::nullopt;
}

// smfi_main's thread (and the per-connection threads it spawns) inherit the blocked mask, so
// the handled signals reach the main thread only.
std::thread startMilterThread(std::atomic<bool>& done, std::atomic<int>& result) {
  sigset_t ours, old;
  sigemptyset(&ours);
  for (int sig : kHandledSignals) sigaddset(&ours, sig);
  pthread_sigmask(SIG_BLOCK, &ours, &old);
  std::thread milterThread([&done, &result] {
    result = smfi_main();
    done = true;
    onSignal(0);  // wake the main loop
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return milterThread;
}

std::string stagesOf(const app::PolicyHolder& holder) {
  return "(" + std::to_string(holder.snapshot()->stages.size()) + " stages)";
}

void reloadPolicy(const app::DaemonOptions& options, const app::PolicyLoadOptions& loadOptions,
                  app::PolicyHolder& holder) {
  notifyReloading("reloading the policy from " + options.policyFile);
  std::string error =
      holder.reload([&] { return app::loadPolicyFile(options.policyFile, loadOptions); });
  metrics::countPolicyReload(error.empty());
  std::string outcome = error.empty()
                            ? "policy reloaded from " + options.policyFile + " " + stagesOf(holder)
                            : "policy reload refused, keeping the running policy: " + error;
  logMessage(error.empty() ? LogLevel::Info : LogLevel::Error, outcome);
  notifyReady(outcome);
}

// The main thread's loop: the signals the handler wrote to the pipe, until smfi_main returns.
void serveSignals(const app::DaemonOptions& options, const app::PolicyLoadOptions& loadOptions,
                  app::PolicyHolder& holder, const std::atomic<bool>& milterDone) {
  bool stopping = false;
  while (!milterDone) {
    pollfd p{gSignalPipe[0], POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    unsigned char sig = 0;
    while (read(gSignalPipe[0], &sig, 1) == 1) {
      if (sig == SIGHUP) {
        reloadPolicy(options, loadOptions, holder);
      } else if (sig == SIGUSR1) {
        logCounters();
      } else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
        logMessage(LogLevel::Info, "stopping on signal " + std::to_string(sig));
        notifyStopping("stopping on signal " + std::to_string(sig));
        stopping = true;
        smfi_stop();
      }
    }
  }
}

// Before listening (a limit raised later would not cover the first connections).
void applyConnectionLimit(const app::DaemonOptions& options) {
  setConnectionLimit(options.maxConnections);
  if (std::string warning = raiseOpenFilesLimit(options.maxConnections); !warning.empty())
    logMessage(LogLevel::Warning, warning);
}

}  // namespace

// What needs root comes first (the socket, a low metrics port); the files it writes come after
// the switch to the service user.
int runDaemon(const app::DaemonOptions& options) {
  if (Stop stop = startLogging(options)) return *stop;
  setDefaultHostname(options.hostname);
  setUnansweredData(!unixSocketPath(options.socket).empty());
  app::PolicyLoadOptions loadOptions;
  std::unique_ptr<app::PolicyHolder> holder;
  std::shared_ptr<DeferredRecorder> recorder;
  if (Stop stop = loadFirstPolicy(options, loadOptions, holder, recorder)) return *stop;
  setPolicyHolder(holder.get());
  applyConnectionLimit(options);
  if (Stop stop = openListener(options)) return *stop;
  std::unique_ptr<MetricsHttpServer> metricsServer;
  if (Stop stop = startMetrics(options, metricsServer)) return *stop;
  if (Stop stop = dropPrivilegesAsConfigured(options)) return *stop;
  if (Stop stop = openRecordFile(recorder.get())) return *stop;
  if (Stop stop = writePidfile(options)) return *stop;
  if (Stop stop = installSignalHandlers()) return *stop;

  std::atomic<bool> milterDone{false};
  std::atomic<int> milterResult{MI_SUCCESS};
  std::thread milterThread = startMilterThread(milterDone, milterResult);
  logMessage(LogLevel::Info, "mxguard " + std::string(version()) + " listening on " +
                                 options.socket + ", store " + loadOptions.store->describe() +
                                 ", policy " + options.policyFile + " " + stagesOf(*holder));
  notifyReady("listening on " + options.socket + ", policy " + options.policyFile + " " +
              stagesOf(*holder));
  serveSignals(options, loadOptions, *holder, milterDone);
  milterThread.join();
  if (!options.pidfile.empty()) unlink(options.pidfile.c_str());
  logMessage(LogLevel::Info, "stopped");
  return milterResult == MI_SUCCESS ? 0 : kExitOsErr;
}

}  // namespace mxguard::milter
