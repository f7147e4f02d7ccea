// mvkv_load: opens an mvkv data directory the way the server does, showing
// load progress on stderr, then prints what it found.
//
//   bazel run //storage:mvkv_load -- --dir=/var/lib/mvkv [--checkpoint=DIR]
//
// Exit status 0 on success; 1 with the error on stderr otherwise.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "flags/usage.h"
#include "mvcc/db.h"
#include "storage/open.h"

ABSL_FLAG(std::string, dir, "", "The data directory.");
ABSL_FLAG(bool, create, false, "Create a new database if dir has none.");
ABSL_FLAG(std::string, checkpoint, "",
          "If set, write a checkpoint of the loaded state to this directory.");

int main(int argc, char** argv) {
  mvkv::flags::SetUsage(
      "opens an mvkv data directory as mvkv_server does (load "
      "progress on stderr), prints keys=N last_commit_ts=T, and optionally "
      "writes a checkpoint.\n"
      "  mvkv_load --dir=DIR [--create] [--checkpoint=NEW_DIR]\n"
      "Exit status 0 on success, 1 with the error on stderr.");
  absl::ParseCommandLine(argc, argv);
  mvkv::storage::StorageOptions options;
  options.dir = absl::GetFlag(FLAGS_dir);
  options.create_if_missing = absl::GetFlag(FLAGS_create);
  options.progress = mvkv::storage::StderrLoadProgress(options.dir);
  auto opened = mvkv::storage::OpenPersistentDatabase(options, {});
  if (!opened.ok()) {
    std::fprintf(stderr, "mvkv_load: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  const mvkv::Stats stats = opened->db->GetStats();
  std::printf("keys=%llu last_commit_ts=%llu\n",
              static_cast<unsigned long long>(stats.live_keys),
              static_cast<unsigned long long>(stats.visible_ts));
  const std::string checkpoint = absl::GetFlag(FLAGS_checkpoint);
  if (!checkpoint.empty()) {
    absl::Status s = opened->db->Checkpoint(checkpoint);
    if (!s.ok()) {
      std::fprintf(stderr, "mvkv_load: %s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("checkpoint written to %s\n", checkpoint.c_str());
  }
  return 0;
}
