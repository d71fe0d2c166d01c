// pid_file_test.cpp - the pid file in a scratch directory: written, a stale one replaced (not
// written through), a symbolic link or a directory in its place refused with the reason.
// Must not: touch anything outside its own temporary directory.
#include "milter/pid_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace mxguard::milter {
namespace {

class PidFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pid-file-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir + "'").c_str()); }
  static std::string contents(const std::string& path) {
    std::ostringstream s;
    s << std::ifstream(path).rdbuf();
    return s.str();
  }
  std::string dir;
  std::string error;
};

TEST_F(PidFile, WritesThePidAndReplacesAStaleFile) {
  std::string path = dir + "/mxguard.pid";
  std::string other = dir + "/other";
  std::ofstream(other) << "keep\n";
  ASSERT_EQ(link(other.c_str(), path.c_str()), 0);  // a hard link: must not be written through
  ASSERT_TRUE(writePidFile(path, &error)) << error;
  EXPECT_EQ(contents(path), std::to_string(getpid()) + "\n");
  EXPECT_EQ(contents(other), "keep\n");
}

TEST_F(PidFile, RefusesASymbolicLinkAndLeavesItsTargetAlone) {
  std::string path = dir + "/mxguard.pid";
  std::string victim = dir + "/victim";
  std::ofstream(victim) << "precious\n";
  ASSERT_EQ(symlink(victim.c_str(), path.c_str()), 0);
  EXPECT_FALSE(writePidFile(path, &error));
  EXPECT_EQ(error,
            "pid file " + path +
                " is a symbolic link; refusing to follow it (remove it if you put it there)");
  EXPECT_EQ(contents(victim), "precious\n");
}

TEST_F(PidFile, RefusesWhatIsNotAFile) {
  std::string path = dir + "/mxguard.pid";
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  EXPECT_FALSE(writePidFile(path, &error));
  EXPECT_EQ(error,
            "pid file " + path + " exists and is not a regular file; refusing to replace it");
}

}  // namespace
}  // namespace mxguard::milter
