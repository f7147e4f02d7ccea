// A small program that embeds mvkv: autocommit writes, a transfer between
// accounts as a serializable transaction with retries, a consistent scan, a
// TVar updated in the same transaction as keys, two watches served by one
// thread, and the engine's stats.
//
//   bazel run //examples:embed
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "mvcc/db.h"

namespace {

absl::Status Run() {
  absl::StatusOr<std::unique_ptr<mvkv::Database>> opened = mvkv::Database::Open();
  if (!opened.ok()) return opened.status();
  mvkv::Database& db = **opened;

  for (const char* name : {"alice", "bob", "carol"}) {
    if (absl::Status s = db.Put(std::string("acct/") + name, "100"); !s.ok()) {
      return s;
    }
  }
  mvkv::TVar<int64_t> transfers = db.NewTVar<int64_t>(0);

  // Watches from the next commit on: they will see the transfer.
  std::vector<std::unique_ptr<mvkv::Watch>> watches;
  for (const char* key : {"acct/alice", "acct/bob"}) {
    absl::StatusOr<std::unique_ptr<mvkv::Watch>> w =
        db.Watch(mvkv::WatchRange::Key(key));
    if (!w.ok()) return w.status();
    watches.push_back(*std::move(w));
  }

  mvkv::Database::TransactOptions options;
  options.isolation = mvkv::IsolationLevel::kSerializable;
  absl::Status s = db.Transact(
      [&](mvkv::Txn& txn) -> absl::Status {
        absl::StatusOr<std::string> from = txn.Get("acct/alice");
        if (!from.ok()) return from.status();
        absl::StatusOr<std::string> to = txn.Get("acct/bob");
        if (!to.ok()) return to.status();
        if (std::stoll(*from) < 30) {
          return absl::FailedPreconditionError("insufficient funds");
        }
        if (absl::Status w = txn.Put("acct/alice", std::to_string(std::stoll(*from) - 30));
            !w.ok()) {
          return w;
        }
        if (absl::Status w = txn.Put("acct/bob", std::to_string(std::stoll(*to) + 30));
            !w.ok()) {
          return w;
        }
        absl::StatusOr<int64_t> n = txn.Read(transfers);
        if (!n.ok()) return n.status();
        return txn.Write(transfers, *n + 1);
      },
      options);
  if (!s.ok()) return s;

  // One thread serves both watches: WaitAny names those with an event, and
  // NextInto decodes each into one reused WatchEvent.
  std::vector<mvkv::Watch*> waiting = {watches[0].get(), watches[1].get()};
  mvkv::WatchEvent event;
  std::vector<std::size_t> ready;
  while (!waiting.empty()) {
    if (absl::Status w = mvkv::Watch::WaitAny(
            waiting, absl::Now() + absl::Seconds(5), &ready);
        !w.ok()) {
      return w;
    }
    for (auto it = ready.rbegin(); it != ready.rend(); ++it) {
      mvkv::Watch* watch = waiting[*it];
      if (absl::Status n = watch->NextInto(&event, absl::InfinitePast());
          !n.ok()) {
        return n;
      }
      for (const mvkv::WatchChange& c : event.changes) {
        std::printf("watch %s: commit ts %llu: %s=%s\n",
                    watch->range().start.c_str(),
                    static_cast<unsigned long long>(event.commit_ts),
                    c.key.c_str(), c.value.c_str());
      }
      waiting.erase(waiting.begin() + *it);  // one event each is enough here
    }
  }

  absl::StatusOr<std::vector<mvkv::KeyValue>> accounts = db.Scan("acct/", "acct0");
  if (!accounts.ok()) return accounts.status();
  for (const mvkv::KeyValue& kv : *accounts) {
    std::printf("%-12s %s (committed at ts %llu)\n", kv.key.c_str(),
                kv.value.c_str(), static_cast<unsigned long long>(kv.commit_ts));
  }
  auto txn = db.Begin();
  std::printf("transfers: %lld\n", static_cast<long long>(*txn->Read(transfers)));

  const mvkv::Stats stats = db.GetStats();
  std::printf("live keys %llu, versions %llu, commits %llu, visible ts %llu\n",
              static_cast<unsigned long long>(stats.live_keys),
              static_cast<unsigned long long>(stats.versions),
              static_cast<unsigned long long>(stats.commits),
              static_cast<unsigned long long>(stats.visible_ts));
  return absl::OkStatus();
}

}  // namespace

int main() {
  absl::Status s = Run();
  if (!s.ok()) {
    std::fprintf(stderr, "embed: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
