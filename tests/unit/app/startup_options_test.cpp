// startup_options_test.cpp - what the daemon's command line and mxguard.conf must get right before
// a start: the socket's form, users and groups that exist, the pid and [record] files not being a
// directory, no stray argument, and the optional default mxguard.conf; each error names where the
// value came from (FILE:LINE: OPTION, or the command-line option).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/daemon_options.h"
#include "config/config_error.h"

namespace mxguard::app {
namespace {

constexpr const char* kNoSuchUser = "mxguard-test-no-such-user";

class StartupOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mxguard-startup-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // NAME in the temp dir with TEXT, mode 0644 (a config file others can write is refused).
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    chmod(path.c_str(), 0644);
    return path;
  }

  // Parses ARGS (after "mxguard") with the default mxguard.conf at `defaultConfig`.
  DaemonOptions parse(std::vector<std::string> args, const std::string& defaultConfig = "") {
    DaemonOptions options;
    options.defaultConfigFile = defaultConfig.empty() ? dir_ + "/absent.conf" : defaultConfig;
    args.insert(args.begin(), "mxguard");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::string help;
    parseDaemonCommandLine(static_cast<int>(argv.size()), argv.data(), options, &help);
    return options;
  }

  // The ConfigError's text (exit 78) or the UsageError's, prefixed "usage: " (exit 64).
  std::string error(std::vector<std::string> args) {
    try {
      parse(std::move(args));
    } catch (const config::ConfigError& e) {
      return e.what();
    } catch (const UsageError& e) {
      return std::string("usage: ") + e.what();
    }
    return "no error";
  }

  std::string dir_;
};

TEST(SocketProblem, AcceptsWhatLibmilterAndMxguardBothUnderstand) {
  for (const char* ok :
       {"unix:/run/mxguard/mxguard.sock", "local:/run/mxguard/mxguard.sock", "inet:8891@127.0.0.1",
        "inet:8891@[127.0.0.1]", "inet:8891@localhost", "inet:1@0.0.0.0", "inet:65535@127.0.0.1",
        "inet6:8891@::1", "inet6:8891@[::1]"})
    EXPECT_EQ(socketProblem(ok), "") << ok;
}

TEST(SocketProblem, NamesWhatIsWrong) {
  const std::string forms =
      " (use unix:/PATH, inet:PORT@HOST or inet6:PORT@HOST, e.g. unix:/run/mxguard/mxguard.sock)";
  const std::string inet = " (use inet:PORT@HOST, e.g. inet:8891@127.0.0.1)";
  const std::string unix = " (use unix:/PATH, e.g. unix:/run/mxguard/mxguard.sock)";
  EXPECT_EQ(socketProblem("tcp:10025"), "invalid socket 'tcp:10025': unknown type 'tcp'" + forms);
  // libmilter takes a bare path as a unix socket, but mxguard would not set its owner and mode.
  EXPECT_EQ(socketProblem("/run/x.sock"), "invalid socket '/run/x.sock': no type" + forms);
  EXPECT_EQ(socketProblem("UNIX:/run/x.sock"),
            "invalid socket 'UNIX:/run/x.sock': unknown type 'UNIX'" + forms);
  EXPECT_EQ(
      socketProblem("inet:abc@host"),
      "invalid socket 'inet:abc@host': the port 'abc' is not a number from 1 to 65535" + inet);
  // libmilter's atoi would listen on 70000 % 65536 = 4464.
  EXPECT_EQ(socketProblem("inet:70000@127.0.0.1"),
            "invalid socket 'inet:70000@127.0.0.1': the port '70000' is not a number from 1 to "
            "65535" +
                inet);
  EXPECT_EQ(
      socketProblem("inet:0@127.0.0.1"),
      "invalid socket 'inet:0@127.0.0.1': the port '0' is not a number from 1 to 65535" + inet);
  EXPECT_EQ(socketProblem("inet:10025"),
            "invalid socket 'inet:10025': no host; libmilter would listen on every address" + inet);
  EXPECT_EQ(socketProblem("inet:10025@no-such-host.invalid"),
            "invalid socket 'inet:10025@no-such-host.invalid': the host 'no-such-host.invalid' is "
            "not an IPv4 address or a name that resolves to one" +
                inet);
  EXPECT_EQ(socketProblem("inet6:10025@127.0.0.1"),
            "invalid socket 'inet6:10025@127.0.0.1': the host '127.0.0.1' is not an IPv6 address "
            "or a name that resolves to one (use inet6:PORT@HOST, e.g. inet6:8891@[::1])");
  EXPECT_EQ(socketProblem("inet:10025@[::1]"),
            "invalid socket 'inet:10025@[::1]': the host '[::1]' is not an IPv4 address or a name "
            "that resolves to one" +
                inet);
  EXPECT_EQ(socketProblem("unix:"), "invalid socket 'unix:': no path" + unix);
  EXPECT_EQ(socketProblem("unix:run/x.sock"),
            "invalid socket 'unix:run/x.sock': the path 'run/x.sock' is not absolute" + unix);
  std::string longPath = "/" + std::string(107, 'a');
  EXPECT_EQ(socketProblem("unix:" + longPath),
            "invalid socket 'unix:" + longPath +
                "': the path has 108 bytes, more than the 107 of a unix socket's name");
  EXPECT_EQ(socketProblem("unix:/" + std::string(106, 'a')), "");  // 107 bytes: fits
}

TEST_F(StartupOptions, ABadSocketInTheFileNamesFileLineAndOption) {
  std::string conf = write("m.conf", "# the milter socket\nsocket = tcp:10025\n");
  EXPECT_EQ(error({"--config", conf, "--check-config"}),
            conf +
                ":2: socket: invalid socket 'tcp:10025': unknown type 'tcp' (use unix:/PATH, "
                "inet:PORT@HOST or inet6:PORT@HOST, e.g. unix:/run/mxguard/mxguard.sock)");
  // The command line wins over the file, and its own bad value is a usage error naming it.
  EXPECT_EQ(parse({"--config", conf, "--socket", "inet:8891@127.0.0.1"}).socket,
            "inet:8891@127.0.0.1");
  EXPECT_EQ(error({"--config", conf, "--socket", "unix:relative"}),
            "usage: --socket: invalid socket 'unix:relative': the path 'relative' is not absolute "
            "(use unix:/PATH, e.g. unix:/run/mxguard/mxguard.sock)");
}

TEST_F(StartupOptions, UnknownUsersAndGroupsAreRefusedWhereTheyWereSet) {
  std::string user = write("user.conf", std::string("user = ") + kNoSuchUser + "\n");
  EXPECT_EQ(error({"--config", user}), user + ":1: user: no such user '" + kNoSuchUser + "'");
  std::string owner =
      write("owner.conf", std::string("allow_root = yes\nsocket_owner = ") + kNoSuchUser + "\n");
  EXPECT_EQ(error({"--config", owner}),
            owner + ":2: socket_owner: no such user '" + kNoSuchUser + "'");
  std::string group = write("group.conf", std::string("socket_group = ") + kNoSuchUser + "\n");
  EXPECT_EQ(error({"--config", group}),
            group + ":1: socket_group: no such group '" + kNoSuchUser + "'");
  EXPECT_EQ(error({"--user", kNoSuchUser}),
            std::string("usage: --user: no such user '") + kNoSuchUser + "'");
  // --user over a file's unknown user: the command line's is the one checked.
  EXPECT_EQ(parse({"--config", user, "--user", "root"}).user, "root");
}

TEST_F(StartupOptions, PidAndRecordFilesMustNotBeADirectoryOrOtherNonFile) {
  std::string pid = write("pid.conf", "pidfile = " + dir_ + "\n");
  EXPECT_EQ(error({"--config", pid}),
            pid + ":1: pidfile: '" + dir_ +
                "' is a directory, not a file (e.g. /run/mxguard/mxguard.pid)");
  EXPECT_EQ(error({"--pidfile", dir_}),
            "usage: --pidfile: '" + dir_ +
                "' is a directory, not a file (e.g. /run/mxguard/mxguard.pid)");
  std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string record = write("record.conf", "[record]\n# where\nfile = " + fifo + "\n");
  EXPECT_EQ(error({"--config", record}),
            record + ":3: record.file: '" + fifo +
                "' is a FIFO, not a file (e.g. /var/lib/mxguard/transactions.jsonl)");
  // Absent (created at start) or a regular file (a stale pid file, a log being appended): fine.
  EXPECT_EQ(error({"--pidfile", dir_ + "/mxguard.pid"}), "no error");
  write("mxguard.pid", "123\n");
  EXPECT_EQ(error({"--pidfile", dir_ + "/mxguard.pid"}), "no error");
}

TEST_F(StartupOptions, AStrayArgumentIsAUsageErrorNamingIt) {
  std::string policy = write("p.conf", "[engine]\n");
  EXPECT_EQ(error({"--check-config", "--policy", policy, "other.conf"}),
            "usage: unexpected argument 'other.conf' (mxguard takes options only; a value follows "
            "its option, as in --policy FILE)");
  EXPECT_EQ(error({"stray"}),
            "usage: unexpected argument 'stray' (mxguard takes options only; a value follows its "
            "option, as in --policy FILE)");
}

TEST_F(StartupOptions, TheDefaultConfigFileIsReadWhenItExists) {
  // Absent: the built-in defaults, and the path is kept for the one notice.
  DaemonOptions absent = parse({});
  EXPECT_EQ(absent.configFile, "");
  EXPECT_EQ(absent.missingDefaultConfig, dir_ + "/absent.conf");
  EXPECT_EQ(absent.socket, "unix:/run/mxguard/mxguard.sock");
  // Present: read like a --config, errors and all.
  std::string present = write("mxguard.conf", "socket = inet:8891@127.0.0.1\n");
  DaemonOptions read = parse({}, present);
  EXPECT_EQ(read.configFile, present);
  EXPECT_EQ(read.missingDefaultConfig, "");
  EXPECT_EQ(read.socket, "inet:8891@127.0.0.1");
  std::string broken = write("broken.conf", "sockett = inet:8891@127.0.0.1\n");
  try {
    parse({}, broken);
    ADD_FAILURE() << "a broken default mxguard.conf was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with(broken + ":1: sockett: unknown option 'sockett'"))
        << e.what();
  }
  // --config '': no file at all, not even the default; no notice either.
  DaemonOptions none = parse({"--config", ""}, present);
  EXPECT_EQ(none.configFile, "");
  EXPECT_EQ(none.missingDefaultConfig, "");
  EXPECT_EQ(none.socket, "unix:/run/mxguard/mxguard.sock");
  // A --config that is missing is an error (exit 78), not the built-in defaults.
  EXPECT_EQ(error({"--config", dir_ + "/missing.conf"}),
            dir_ + "/missing.conf: cannot open: No such file or directory");
}

TEST(BuiltInPaths, ConfigAndPolicyShareSysconfdirMxguard) {
  std::string config = builtInConfigFile(), policy = builtInPolicyFile();
  ASSERT_EQ(config.front(), '/');
  ASSERT_GT(config.size(), sizeof "/mxguard/mxguard.conf");
  EXPECT_EQ(config.substr(config.size() - 21), "/mxguard/mxguard.conf");
  EXPECT_EQ(policy, config.substr(0, config.size() - 12) + "policy.conf");
  EXPECT_EQ(DaemonOptions().policyFile, policy);
  EXPECT_EQ(DaemonOptions().defaultConfigFile, config);
}

}  // namespace
}  // namespace mxguard::app
