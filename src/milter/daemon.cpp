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
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
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

// Daemon mode: the process started from the shell waits until the detached daemon serves or
// gives up, so a start that fails says why on stderr and exits non-zero, as a foreground start
// does, instead of exiting 0 with the reason in syslog only. The daemon writes to gStartPipe
// "E text" for each error it logs while starting, then "R" (ready: serving) or "X code".
// Under gStartMutex: a thread may log an error while the main thread closes the pipe, and a
// write after the close could reach whatever reused the descriptor.
int gStartPipe = -1;  // the daemon's end, until it reports; -1 in foreground mode and after
std::mutex gStartMutex;

void writeStartLocked(const std::string& line) {
  if (gStartPipe < 0) return;
  std::string text = line + "\n";
  for (size_t done = 0; done < text.size();) {
    ssize_t n = write(gStartPipe, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone: nobody to tell
    done += static_cast<size_t>(n);
  }
}

// The daemon's last word to the parent: "R" or "X code". Later errors go to syslog only.
void reportStart(int exitCode, bool ready) {
  std::lock_guard guard(gStartMutex);
  if (gStartPipe < 0) return;
  writeStartLocked(ready ? "R" : "X " + std::to_string(exitCode));
  close(gStartPipe);
  gStartPipe = -1;
}

// The parent's side: print what the daemon reports, exit with its code. A daemon that dies
// without a word (a crash) is an OS error.
[[noreturn]] void waitForDaemon(int fd, pid_t child) {
  waitpid(child, nullptr, 0);  // the intermediate child, which exits at once
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  int code = kExitOsErr;
  bool told = false;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) break;
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.rfind("E ", 0) == 0) {
      std::fprintf(stderr, "mxguard: %s\n", line.c_str() + 2);
    } else if (line == "R") {
      code = 0, told = true;
    } else if (line.rfind("X ", 0) == 0) {
      code = std::atoi(line.c_str() + 2), told = true;
    }
  }
  if (!told)
    std::fprintf(stderr,
                 "mxguard: the daemon ended while starting, without a reason (see the "
                 "mail log)\n");
  std::fflush(stderr);
  _exit(code);
}

bool daemonize() {
  int start[2];
  if (pipe2(start, O_CLOEXEC) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid > 0) {
    close(start[1]);
    waitForDaemon(start[0], pid);
  }
  close(start[0]);
  setsid();
  if (fork() > 0) _exit(0);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
  }
  // A parent killed while waiting must not take the daemon with it (EPIPE instead of SIGPIPE).
  signal(SIGPIPE, SIG_IGN);
  gStartPipe = start[1];
  return true;
}

// While the daemon starts in the background, its errors go to the waiting parent too.
void teeErrorToStarter(LogLevel level, std::string_view message) {
  if (level != LogLevel::Error) return;
  std::string line(message);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::lock_guard guard(gStartMutex);
  writeStartLocked("E " + line);
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
  if (daemonize()) {
    logToSyslog(teeErrorToStarter);
    return std::nullopt;
  }
  // Still the process started from the shell: say it there too.
  std::string error = std::string("cannot fork: ") + std::strerror(errno);
  logMessage(LogLevel::Error, error);
  std::fprintf(stderr, "mxguard: %s\n", error.c_str());
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
  if (dir.empty()) return "";
  if (stat(dir.c_str(), &st) != 0)
    return ": its directory " + dir + " does not exist (systemd's RuntimeDirectory=mxguard " +
           "makes /run/mxguard; otherwise: install -d -o mxguard -g mxguard -m 0750 " + dir + ")";
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    int error = errno;
    return ": its directory " + dir + " is not writable by uid " + std::to_string(getuid()) + " (" +
           std::strerror(error) + ")";
  }
  return "";
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

// What needs root comes first (the socket, a low metrics port); the files it writes come after
// the switch to the service user.
int serve(const app::DaemonOptions& options) {
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
  reportStart(0, true);
  serveSignals(options, loadOptions, *holder, milterDone);
  milterThread.join();
  if (!options.pidfile.empty()) unlink(options.pidfile.c_str());
  logMessage(LogLevel::Info, "stopped");
  return milterResult == MI_SUCCESS ? 0 : kExitOsErr;
}

}  // namespace

int runDaemon(const app::DaemonOptions& options) {
  int code = serve(options);
  reportStart(code, false);  // a start that stopped early: the waiting parent exits with its code
  return code;
}

}  // namespace mxguard::milter
