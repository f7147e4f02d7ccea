// crash_child: the process that crash_test kills. Opens DIR in sync mode and
// commits transactions from THREADS threads until killed; each transaction
// writes s/<seq>/0, s/<seq>/1, s/<seq>/2 and last/<thread>/0..2, all with
// value <seq>, so a partially recovered transaction is detectable. After
// each acknowledged commit it writes <seq> (8 bytes, native order) to fd 3.
//
//   crash_child DIR THREADS SEQ_BASE
//
// Exits 2 with a message on stderr if open or a commit fails.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mvcc/db.h"
#include "storage/open.h"

namespace {

void Die(const std::string& what) {
  std::fprintf(stderr, "crash_child: %s\n", what.c_str());
  std::_Exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) Die("usage: crash_child DIR THREADS SEQ_BASE");
  mvkv::storage::StorageOptions options;
  options.dir = argv[1];
  options.create_if_missing = true;
  options.mode = mvkv::storage::DurabilityMode::kSync;
  const int threads = std::atoi(argv[2]);
  std::atomic<uint64_t> next_seq{std::strtoull(argv[3], nullptr, 10)};
  auto opened = mvkv::storage::OpenPersistentDatabase(options, {});
  if (!opened.ok()) Die(opened.status().ToString());
  mvkv::Database& db = *opened->db;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (;;) {
        const uint64_t seq = next_seq.fetch_add(1, std::memory_order_relaxed);
        const std::string value = absl::StrCat(seq);
        auto txn = db.Begin();
        for (int j = 0; j < 3; ++j) {
          (void)txn->Put(absl::StrCat("s/", seq, "/", j), value);
          (void)txn->Put(absl::StrCat("last/", t, "/", j), value);
        }
        if (absl::Status s = txn->Commit(); !s.ok()) Die(s.ToString());
        // One write of 8 bytes to a pipe is atomic (< PIPE_BUF).
        if (::write(3, &seq, sizeof(seq)) != sizeof(seq)) Die("ack pipe");
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
