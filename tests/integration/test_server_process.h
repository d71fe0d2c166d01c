// test_server_process.h - starts one of the testbed's Python servers (slow_dns.py,
// scripted_smtp.py), reads the port it prints first, and stops it on destruction.
// Must not: leave the child running when a test fails (the destructor kills it).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace mxguard::testing {

class TestServerProcess {
 public:
  TestServerProcess(const std::string& script, std::vector<std::string> args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      std::string path = std::string(MXGUARD_TESTBED_DIR) + "/" + script;
      std::vector<char*> argv{const_cast<char*>("python3"), path.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(out[1]);
    char buf[32] = {};
    FILE* f = fdopen(out[0], "r");
    if (f && std::fgets(buf, sizeof buf, f)) port_ = std::atoi(buf);
    if (f) std::fclose(f);
  }
  ~TestServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  TestServerProcess(const TestServerProcess&) = delete;
  TestServerProcess& operator=(const TestServerProcess&) = delete;
  int port() const { return port_; }

  static bool pythonAvailable() { return std::system("command -v python3 >/dev/null 2>&1") == 0; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace mxguard::testing
