// NodeDir's temporary directories: an in-memory node's start removes the
// ones killed processes left behind (old, unlocked or empty), and never
// one a live node holds, one too young to be locked yet, or anything not
// named like a temporary directory.
#include "replication/internal/node_dir.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace mvkv::replication_internal {
namespace {

namespace fs = std::filesystem;

class NodeDirSweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* root = std::getenv("TEST_TMPDIR");
    base_ = absl::StrCat(root != nullptr ? root : "/tmp", "/sweep-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_);
  }
  void TearDown() override { fs::remove_all(base_); }

  std::string Make(const std::string& name, bool with_identity) {
    const std::string dir = absl::StrCat(base_, "/", name);
    fs::create_directory(dir);
    if (with_identity) std::ofstream(dir + "/mvkv-node") << "mvkv-node 1\n";
    return dir;
  }
  // Sets `dir`'s modification time `seconds` into the past.
  static void Age(const std::string& dir, int seconds) {
    struct timeval now;
    ::gettimeofday(&now, nullptr);
    struct timeval times[2] = {now, now};
    times[0].tv_sec -= seconds;
    times[1].tv_sec -= seconds;
    ASSERT_EQ(::utimes(dir.c_str(), times), 0) << dir;
  }
  static replication::NodeOptions InMemory() {
    replication::NodeOptions options;
    options.node_id = 1;
    return options;
  }

  std::string base_;
};

TEST_F(NodeDirSweepTest, RemovesOldUnlockedAndEmptyOnes) {
  const std::string dead = Make("mvkv-node-AbC123", true);
  const std::string empty = Make("mvkv-node-zzzzzz", false);
  Age(dead, 3600);
  Age(empty, 3600);
  EXPECT_EQ(NodeDir::SweepStaleTemporaries(base_, absl::Seconds(60)), 2);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(empty));
}

TEST_F(NodeDirSweepTest, KeepsYoungOnesAndOtherNames) {
  const std::string young = Make("mvkv-node-young1", true);
  Age(young, 10);
  const std::string other_names[] = {"mvkv-node-toolong1", "mvkv-node-abc",
                                     "mvkv-nodes-abcdef", "data-abcdef"};
  for (const std::string& name : other_names) Age(Make(name, true), 3600);
  // A file, not a directory, with the pattern's name.
  std::ofstream(base_ + "/mvkv-node-file01") << "x";
  EXPECT_EQ(NodeDir::SweepStaleTemporaries(base_, absl::Seconds(60)), 0);
  EXPECT_TRUE(fs::exists(young));
  for (const std::string& name : other_names) {
    EXPECT_TRUE(fs::exists(absl::StrCat(base_, "/", name))) << name;
  }
  EXPECT_TRUE(fs::exists(base_ + "/mvkv-node-file01"));
}

TEST_F(NodeDirSweepTest, KeepsTheDirectoryOfALiveNodeInThisProcess) {
  ASSERT_EQ(::setenv("TMPDIR", base_.c_str(), 1), 0);
  absl::StatusOr<std::unique_ptr<NodeDir>> live = NodeDir::Open(InMemory());
  ASSERT_TRUE(live.ok()) << live.status();
  const std::string path = fs::path((*live)->raft_dir()).parent_path().string();
  ASSERT_EQ(fs::path(path).parent_path().string(), base_);
  Age(path, 3600);
  EXPECT_EQ(NodeDir::SweepStaleTemporaries(base_, absl::Seconds(60)), 0);
  EXPECT_TRUE(fs::exists(path));
  live->reset();
  EXPECT_FALSE(fs::exists(path));  // closed: removed by its own destructor
  ::unsetenv("TMPDIR");
}

// The case the sweep exists for: a node process killed with SIGKILL
// cannot remove its directory; the next in-memory node's start does.
TEST_F(NodeDirSweepTest, TheNextStartRemovesWhatAKilledNodeLeft) {
  ASSERT_EQ(::setenv("TMPDIR", base_.c_str(), 1), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    absl::StatusOr<std::unique_ptr<NodeDir>> dir = NodeDir::Open(InMemory());
    if (!dir.ok()) ::_exit(1);
    ::raise(SIGKILL);
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  std::string left;
  for (const fs::directory_entry& e : fs::directory_iterator(base_)) left = e.path().string();
  ASSERT_FALSE(left.empty()) << "the killed child left no directory";
  ASSERT_TRUE(fs::exists(left + "/mvkv-node"));

  {  // Too young: a node between mkdtemp and its flock looks the same.
    absl::StatusOr<std::unique_ptr<NodeDir>> next = NodeDir::Open(InMemory());
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_TRUE(fs::exists(left));
  }
  Age(left, 2 * absl::ToInt64Seconds(NodeDir::kStaleAfter));
  absl::StatusOr<std::unique_ptr<NodeDir>> next = NodeDir::Open(InMemory());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_FALSE(fs::exists(left));
  ::unsetenv("TMPDIR");
}

}  // namespace
}  // namespace mvkv::replication_internal
