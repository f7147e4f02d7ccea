// Bad data directories: each gives a clear status at Open and changes
// nothing in the directory.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "storage/open.h"
#include "storage/rocksdb_durability.h"
#include "storage/testing/temp_dir.h"

namespace mvkv::storage {
namespace {

namespace fs = std::filesystem;
using ::mvkv::storage_testing::TempDir;
using ::testing::HasSubstr;

// Name -> (size, contents) of every file under `dir` except RocksDB's info
// logs, which are diagnostics.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("LOG", 0) == 0) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out[name] = std::string(std::istreambuf_iterator<char>(in), {});
  }
  return out;
}

StorageOptions At(const std::string& dir, bool create = false) {
  StorageOptions o;
  o.dir = dir;
  o.create_if_missing = create;
  return o;
}

// Creates a database with one key in `dir`.
void MakeDatabase(const std::string& dir) {
  auto opened = OpenPersistentDatabase(At(dir, /*create=*/true), {});
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_TRUE(opened->db->Put("k", "v").ok());
}

TEST(OpenErrorsTest, MissingDirectoryIsNotFoundUnlessCreateIsSet) {
  TempDir tmp;
  const std::string dir = tmp.Sub("nope");
  auto d = RocksDbDurability::Open(At(dir));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(d.status().message(), HasSubstr("does not exist"));
  EXPECT_THAT(d.status().message(), HasSubstr("create_if_missing"));
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(RocksDbDurability::Open(At(dir, true)).ok());
}

TEST(OpenErrorsTest, MissingParentIsNotFoundEvenWithCreate) {
  TempDir tmp;
  auto d = RocksDbDurability::Open(At(tmp.Sub("a/b/c"), true));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(d.status().message(), HasSubstr("parent must exist"));
  EXPECT_FALSE(fs::exists(tmp.Sub("a")));
}

TEST(OpenErrorsTest, EmptyDirectoryNeedsCreate) {
  TempDir tmp;
  auto d = RocksDbDurability::Open(At(tmp.path()));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(d.status().message(), HasSubstr("holds no database"));
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(OpenErrorsTest, RegularFileInsteadOfDirectoryIsFailedPrecondition) {
  TempDir tmp;
  const std::string file = tmp.Sub("file");
  std::ofstream(file) << "not a database";
  auto d = RocksDbDurability::Open(At(file, true));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(d.status().message(), HasSubstr("is not a directory"));
  // A path under a regular file.
  auto under = RocksDbDurability::Open(At(file + "/db", true));
  EXPECT_EQ(under.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(under.status().message(), HasSubstr("Not a directory"));
}

TEST(OpenErrorsTest, DirectoryWithForeignFilesIsNeverWrittenInto) {
  TempDir tmp;
  std::ofstream(tmp.Sub("notes.txt")) << "mine";
  const auto before = Snapshot(tmp.path());
  auto d = RocksDbDurability::Open(At(tmp.path(), true));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(d.status().message(), HasSubstr("no CURRENT file"));
  EXPECT_EQ(Snapshot(tmp.path()), before);
}

TEST(OpenErrorsTest, PlainRocksDbDatabaseIsNotMistakenForOurs) {
  TempDir tmp;
  const std::string dir = tmp.Sub("plain");
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir, &db).ok());
    delete db;
  }
  const auto before = Snapshot(dir);
  auto d = RocksDbDurability::Open(At(dir, true));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(d.status().message(), HasSubstr("not an mvkv database"));
  EXPECT_EQ(Snapshot(dir), before);
}

TEST(OpenErrorsTest, SecondOpenOfALockedDirectoryFailsAndTouchesNothing) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  MakeDatabase(dir);
  auto first = OpenPersistentDatabase(At(dir), {});
  ASSERT_TRUE(first.ok()) << first.status();
  const auto before = Snapshot(dir);
  auto second = RocksDbDurability::Open(At(dir));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("locked"));
  EXPECT_THAT(second.status().message(), HasSubstr("LOCK"));
  EXPECT_EQ(Snapshot(dir), before);
  // The first instance is unaffected.
  ASSERT_TRUE(first->db->Put("still", "works").ok());
  EXPECT_EQ(*first->db->Get("k"), "v");
}

// A creation killed after it marked the directory (MVKV_CREATING) but before
// it finished: a plain open says so and changes nothing; create_if_missing
// clears what the creation left and creates the database afresh.
TEST(OpenErrorsTest, InterruptedCreationIsReportedAndFinishedByCreate) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  MakeDatabase(dir);
  std::ofstream(dir + "/MVKV_CREATING") << "interrupted";
  const auto before = Snapshot(dir);
  auto plain = RocksDbDurability::Open(At(dir));
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(plain.status().message(), HasSubstr("incomplete"));
  EXPECT_THAT(plain.status().message(), HasSubstr("--create"));
  EXPECT_EQ(Snapshot(dir), before);

  auto created = OpenPersistentDatabase(At(dir, /*create=*/true), {});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(absl::IsNotFound(created->db->Get("k").status()));
  EXPECT_FALSE(fs::exists(dir + "/MVKV_CREATING"));
}

TEST(OpenErrorsTest, CreationKilledBeforeRocksDbWroteAnythingIsFinished) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  fs::create_directory(dir);
  std::ofstream(dir + "/MVKV_LOCK");
  std::ofstream(dir + "/MVKV_CREATING");
  auto plain = RocksDbDurability::Open(At(dir));
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(plain.status().message(), HasSubstr("incomplete"));
  EXPECT_TRUE(RocksDbDurability::Open(At(dir, /*create=*/true)).ok());
  EXPECT_TRUE(RocksDbDurability::Open(At(dir)).ok());
}

// Creation leaves no marker, and the lock is released at close.
TEST(OpenErrorsTest, CreatedDatabaseIsCompleteAndUnlockedAfterClose) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  MakeDatabase(dir);
  EXPECT_FALSE(fs::exists(dir + "/MVKV_CREATING"));
  EXPECT_TRUE(fs::exists(dir + "/MVKV_LOCK"));
  auto reopened = OpenPersistentDatabase(At(dir), {});
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(*reopened->db->Get("k"), "v");
}

TEST(OpenErrorsTest, GarbageInCurrentIsDataLossAndTouchesNothing) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  MakeDatabase(dir);
  std::ofstream(dir + "/CURRENT", std::ios::trunc) << "garbage\n";
  const auto before = Snapshot(dir);
  auto d = RocksDbDurability::Open(At(dir));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(d.status().message(), HasSubstr("corrupt"));
  EXPECT_EQ(Snapshot(dir), before);
}

TEST(OpenErrorsTest, GarbageInManifestIsDataLossAndTouchesNothing) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  MakeDatabase(dir);
  std::string manifest;
  std::ifstream(dir + "/CURRENT") >> manifest;
  ASSERT_THAT(manifest, HasSubstr("MANIFEST"));
  {
    std::fstream f(dir + "/" + manifest,
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << std::string(64, '\x5a');
  }
  const auto before = Snapshot(dir);
  auto d = RocksDbDurability::Open(At(dir));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << d.status();
  EXPECT_EQ(Snapshot(dir), before);
}

TEST(OpenErrorsTest, UnreadableDirectoryIsPermissionDenied) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: chmod does not deny root reads; the "
                    "other bad-directory cases still run";
  }
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  MakeDatabase(dir);
  ASSERT_EQ(::chmod(dir.c_str(), 0), 0);
  auto d = RocksDbDurability::Open(At(dir));
  ::chmod(dir.c_str(), 0755);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kPermissionDenied)
      << d.status();
}

TEST(OpenErrorsTest, EmptyDirOptionIsInvalidArgument) {
  EXPECT_EQ(RocksDbDurability::Open(StorageOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mvkv::storage
