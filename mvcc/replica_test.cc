// The engine's replication entry points (mvcc/replica.h), driven directly,
// with no Raft: a follower that applies a leader's batches holds the same
// versions at the same timestamps (and prunes the same way); local commits
// are refused until accepted and then continue after the last applied one;
// a batch its Durability did not commit is taken back out completely, and
// so are local commits that share a ring batch with a replicated one;
// snapshot and restore round-trip, atomically, revoking older snapshots; and
// commit timestamps never go backwards.
#include "mvcc/replica.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/durability.h"
#include "mvcc/testing/gated_durability.h"

namespace mvkv {
namespace {

using ::testing::HasSubstr;

using testing_support::GatedDurability;
using testing_support::OwnedBatch;

struct Node {
  GatedDurability durability;
  std::unique_ptr<Database> db;
  std::unique_ptr<Replica> replica;
};

// A database with a ScriptedDurability and a Replica attached; `accept`
// makes it a leader at once.
std::unique_ptr<Node> NewNode(bool accept) {
  auto node = std::make_unique<Node>();
  Options options;
  options.durability = &node->durability;
  options.maintenance_interval = absl::InfiniteDuration();
  auto db = Database::Open(options);
  EXPECT_TRUE(db.ok()) << db.status();
  node->db = std::move(*db);
  auto replica = Replica::Attach(
      *node->db, absl::UnavailableError("not the leader; the leader is node 7"));
  EXPECT_TRUE(replica.ok()) << replica.status();
  node->replica = std::move(*replica);
  if (accept) {
    EXPECT_TRUE(node->replica->AcceptLocalCommits().ok());
  }
  return node;
}

absl::Status ApplyBatch(Replica& replica, const OwnedBatch& batch) {
  std::vector<std::vector<DurableWrite>> writes;
  std::vector<DurableCommit> view = batch.View(&writes);
  return replica.Apply(view);
}

// Every live key with its value and commit timestamp, at `txn`'s snapshot
// (or the latest state).
std::vector<std::tuple<std::string, std::string, uint64_t>> State(
    Database& db, Txn* txn = nullptr) {
  auto kvs = txn != nullptr ? txn->Scan("", "") : db.Scan("", "");
  EXPECT_TRUE(kvs.ok()) << kvs.status();
  std::vector<std::tuple<std::string, std::string, uint64_t>> out;
  for (const KeyValue& kv : *kvs) out.emplace_back(kv.key, kv.value, kv.commit_ts);
  return out;
}

// A fixed history: overwrites, deletes (also of missing keys), multi-key
// transactions, a re-created key.
void WriteHistory(Database& db, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    ASSERT_TRUE(db.Put(absl::StrCat("k", i % 7), absl::StrCat("v", i)).ok());
    if (i % 3 == 0) {
      ASSERT_TRUE(db.Delete(absl::StrCat("k", (i + 2) % 7)).ok());
    }
    if (i % 5 == 0) {
      ASSERT_TRUE(db.Delete(absl::StrCat("never", i)).ok());
    }
    auto txn = db.Begin();
    ASSERT_TRUE(txn->Put(absl::StrCat("t", i % 4), "x").ok());
    ASSERT_TRUE(txn->Put(absl::StrCat("u", i % 3), absl::StrCat(i)).ok());
    ASSERT_TRUE(txn->Delete("k0").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
}

TEST(ReplicaTest, FollowerHoldsTheLeadersVersionsAtTheLeadersTimestamps) {
  auto leader = NewNode(/*accept=*/true);
  auto follower = NewNode(/*accept=*/false);
  // Snapshots held at the same timestamps on both keep the same old
  // versions alive: the pruning must agree too.
  std::vector<std::pair<std::unique_ptr<Txn>, std::unique_ptr<Txn>>> held;
  std::size_t applied = 0;
  for (int step = 0; step < 6; ++step) {
    WriteHistory(*leader->db, 4);
    std::vector<OwnedBatch> batches = leader->durability.batches();
    for (; applied < batches.size(); ++applied) {
      ASSERT_TRUE(ApplyBatch(*follower->replica, batches[applied]).ok());
    }
    ASSERT_EQ(follower->db->GetStats().visible_ts,
              leader->db->GetStats().visible_ts);
    held.emplace_back(leader->db->Begin(), follower->db->Begin());
    ASSERT_EQ(held.back().first->snapshot_ts(), held.back().second->snapshot_ts());
  }
  for (auto& [l, f] : held) EXPECT_EQ(State(*leader->db, l.get()), State(*follower->db, f.get()));
  EXPECT_EQ(State(*leader->db), State(*follower->db));
  const Stats ls = leader->db->GetStats(), fs = follower->db->GetStats();
  EXPECT_EQ(ls.versions, fs.versions);
  EXPECT_EQ(ls.live_keys, fs.live_keys);
  EXPECT_EQ(ls.index_keys, fs.index_keys);
  EXPECT_EQ(ls.commits, fs.commits);
  EXPECT_GT(ls.retained_versions, 0u);
}

TEST(ReplicaTest, RefusesLocalCommitsUntilAcceptedThenContinuesAfterTheLog) {
  auto leader = NewNode(true);
  auto follower = NewNode(false);
  WriteHistory(*leader->db, 2);
  for (const OwnedBatch& b : leader->durability.batches()) {
    ASSERT_TRUE(ApplyBatch(*follower->replica, b).ok());
  }
  absl::Status refused = follower->db->Put("mine", "1");
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.message(), HasSubstr("leader is node 7"));
  EXPECT_EQ(follower->db->Get("mine").status().code(), absl::StatusCode::kNotFound);
  const uint64_t last = leader->db->GetStats().visible_ts;
  absl::StatusOr<uint64_t> resume = follower->replica->AcceptLocalCommits();
  ASSERT_TRUE(resume.ok());
  EXPECT_EQ(*resume, last);
  ASSERT_TRUE(follower->db->Put("mine", "1").ok());
  EXPECT_EQ(follower->db->GetWithTimestamp("mine")->commit_ts, last + 1);
  ASSERT_TRUE(follower->replica->RefuseLocalCommits(absl::UnavailableError("again")).ok());
  EXPECT_EQ(follower->db->Put("mine", "2").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(follower->replica->RefuseLocalCommits(absl::OkStatus()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ReplicaTest, ApplyRefusesTimestampsThatDoNotFollowAndInstallsNothing) {
  auto follower = NewNode(false);
  OwnedBatch b;
  b.commits.push_back({5, {{"a", "1", false}}});
  ASSERT_TRUE(ApplyBatch(*follower->replica, b).ok());
  OwnedBatch stale;
  stale.commits.push_back({6, {{"b", "2", false}}});
  stale.commits.push_back({5, {{"c", "3", false}}});
  absl::Status s = ApplyBatch(*follower->replica, stale);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_EQ(follower->db->Get("b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(follower->db->GetStats().visible_ts, 5u);
  EXPECT_TRUE(follower->replica->Apply({}).ok());
}

TEST(ReplicaTest, ABatchThatDidNotCommitIsTakenBackOutCompletely) {
  auto leader = NewNode(true);
  ASSERT_TRUE(leader->db->Put("kept", "v1").ok());
  ASSERT_TRUE(leader->db->Put("deleted", "d").ok());
  TVar<int> counter = leader->db->NewTVar<int>(1);
  const Stats before = leader->db->GetStats();
  leader->durability.SetNotCommitted(true);
  auto txn = leader->db->Begin();
  ASSERT_TRUE(txn->Put("kept", "v2").ok());
  ASSERT_TRUE(txn->Put("created", "c").ok());
  ASSERT_TRUE(txn->Delete("deleted").ok());
  ASSERT_TRUE(txn->Delete("missing").ok());
  ASSERT_TRUE(txn->Write(counter, 2).ok());
  absl::Status s = txn->Commit();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsBatchNotCommitted(s)) << s;
  EXPECT_EQ(txn->commit_ts(), 0u);
  const Stats after = leader->db->GetStats();
  EXPECT_EQ(after.visible_ts, before.visible_ts);
  EXPECT_EQ(after.versions, before.versions);
  EXPECT_EQ(after.version_bytes, before.version_bytes);
  EXPECT_EQ(after.live_keys, before.live_keys);
  EXPECT_EQ(after.index_keys, before.index_keys);
  EXPECT_EQ(after.retained_versions, before.retained_versions);
  EXPECT_EQ(after.commits, before.commits);
  EXPECT_EQ(*leader->db->Get("kept"), "v1");
  EXPECT_EQ(*leader->db->Get("deleted"), "d");
  EXPECT_EQ(leader->db->Get("created").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(leader->db->Scan("", "")->size(), 2u);
  auto reader = leader->db->Begin();
  EXPECT_EQ(*reader->Read(counter), 1);
  reader.reset();
  // The timestamp counter returned: the next commit takes the same number,
  // and nothing ever goes backwards.
  leader->durability.SetNotCommitted(false);
  ASSERT_TRUE(leader->db->Put("created", "again").ok());
  EXPECT_EQ(leader->db->GetWithTimestamp("created")->commit_ts, before.visible_ts + 1);
  EXPECT_EQ(leader->db->GetStats().visible_ts, before.visible_ts + 1);
}

// Property: a replicated commit that lands in the same ring batch as local
// commits not yet persisted takes them back out first; the replicated one
// installs at the timestamp they had taken.
TEST(ReplicaTest, LocalCommitsSharingARingBatchWithAReplicatedOneAreTakenBack) {
  auto node = NewNode(true);
  ASSERT_TRUE(node->db->Put("base", "0").ok());  // ts 1
  node->durability.SetOpen(false);
  node->durability.SetNotCommitted(true);
  // Batch 1: held in PersistBatch; it will not commit.
  std::mutex mu;
  std::vector<absl::Status> results(2);
  int done = 0;
  std::condition_variable cv;
  auto record = [&](int i) {
    return [&, i](absl::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      results[i] = std::move(s);
      ++done;
      cv.notify_all();
    };
  };
  node->db->PutAsync("first", "1", record(0));
  node->durability.WaitForHeldBatch();
  // Batch 2, queued behind it: a local commit, then a replicated one.
  node->db->PutAsync("second", "2", record(1));
  OwnedBatch replicated;
  replicated.commits.push_back({2, {{"theirs", "t", false}}});
  absl::Status applied;
  std::thread applier([&] { applied = ApplyBatch(*node->replica, replicated); });
  for (int i = 0; i < 10000 && node->db->GetStats().pipeline_occupancy < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(node->db->GetStats().pipeline_occupancy, 3u);
  node->durability.SetOpen(true);
  applier.join();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done == 2; });
  }
  EXPECT_TRUE(IsBatchNotCommitted(results[0])) << results[0];
  EXPECT_EQ(results[1].code(), absl::StatusCode::kUnavailable) << results[1];
  ASSERT_TRUE(applied.ok()) << applied;
  EXPECT_EQ(node->db->Get("first").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(node->db->Get("second").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(node->db->GetWithTimestamp("theirs")->commit_ts, 2u);
  EXPECT_EQ(node->db->GetStats().visible_ts, 2u);
  EXPECT_EQ(node->db->GetStats().live_keys, 2u);
}

// Reads `pin` into owned entries.
std::vector<std::tuple<std::string, std::string, uint64_t>> ReadAll(
    Replica& replica, const Replica::SnapshotPin& pin, std::size_t chunk) {
  std::vector<std::tuple<std::string, std::string, uint64_t>> out;
  absl::Status s = replica.ReadSnapshot(
      pin,
      [&](const SnapshotEntry& e) {
        out.emplace_back(std::string(e.key), std::string(e.value), e.commit_ts);
      },
      chunk);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

absl::Status RestoreFrom(
    Replica& replica, uint64_t ts,
    const std::vector<std::tuple<std::string, std::string, uint64_t>>& entries) {
  std::size_t i = 0;
  return replica.Restore(ts, [&](SnapshotEntry* e) {
    if (i == entries.size()) return false;
    const auto& [k, v, t] = entries[i++];
    *e = SnapshotEntry{k, v, t};
    return true;
  });
}

TEST(ReplicaTest, SnapshotAndRestoreRoundTripIncludingOverAnOlderState) {
  auto source = NewNode(true);
  WriteHistory(*source->db, 3);
  ASSERT_TRUE(source->db->Put("gone", "g").ok());
  std::vector<OwnedBatch> early = source->durability.batches();
  WriteHistory(*source->db, 5);
  ASSERT_TRUE(source->db->Delete("gone").ok());
  const uint64_t ts = source->db->GetStats().visible_ts;
  absl::StatusOr<Replica::SnapshotPin> pin = source->replica->PinSnapshot(ts);
  ASSERT_TRUE(pin.ok()) << pin.status();
  auto at_ts = source->db->Begin();
  // Commits after the pin do not change what it reads.
  ASSERT_TRUE(source->db->Put("k1", "later").ok());
  ASSERT_TRUE(source->db->Delete("u0").ok());
  auto snapshot = ReadAll(*source->replica, *pin, /*chunk=*/2);
  ASSERT_FALSE(snapshot.empty());
  EXPECT_EQ(snapshot, State(*source->db, at_ts.get()));

  auto fresh = NewNode(false);
  ASSERT_TRUE(RestoreFrom(*fresh->replica, ts, snapshot).ok());
  EXPECT_EQ(State(*fresh->db), snapshot);
  EXPECT_EQ(fresh->db->GetStats().visible_ts, ts);

  // A replica that applied only the early batches, with a transaction open
  // on that old state.
  auto behind = NewNode(false);
  for (const OwnedBatch& b : early) ASSERT_TRUE(ApplyBatch(*behind->replica, b).ok());
  auto old = behind->db->Begin();
  ASSERT_TRUE(RestoreFrom(*behind->replica, ts, snapshot).ok());
  EXPECT_EQ(State(*behind->db), snapshot);
  EXPECT_EQ(behind->db->GetStats().live_keys, snapshot.size());
  EXPECT_TRUE(IsSnapshotTooOld(old->Get("k1").status()));
  // Local commits then continue after the snapshot.
  EXPECT_EQ(*behind->replica->AcceptLocalCommits(), ts);
  ASSERT_TRUE(behind->db->Put("next", "n").ok());
  EXPECT_EQ(behind->db->GetWithTimestamp("next")->commit_ts, ts + 1);
}

TEST(ReplicaTest, RestoreRefusesAnOlderSnapshotAndBadEntries) {
  using Entries = std::vector<std::tuple<std::string, std::string, uint64_t>>;
  auto node = NewNode(false);
  OwnedBatch b;
  b.commits.push_back({9, {{"a", "1", false}}});
  ASSERT_TRUE(ApplyBatch(*node->replica, b).ok());
  absl::Status s = RestoreFrom(*node->replica, 8, {{"z", "9", 3}});
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_EQ(State(*node->db), (Entries{{"a", "1", 9}}));
  EXPECT_EQ(node->db->GetStats().visible_ts, 9u);
  auto fresh = NewNode(false);
  EXPECT_EQ(RestoreFrom(*fresh->replica, 5, {{"b", "1", 1}, {"a", "2", 2}}).code(),
            absl::StatusCode::kDataLoss);
  auto fresh2 = NewNode(false);
  EXPECT_EQ(RestoreFrom(*fresh2->replica, 5, {{"b", "1", 6}}).code(),
            absl::StatusCode::kDataLoss);
}

TEST(ReplicaTest, PinsHoldAheadOfVisibleButNotBehindTheHorizon) {
  auto node = NewNode(false);
  OwnedBatch b;
  b.commits.push_back({9, {{"a", "1", false}}});
  ASSERT_TRUE(ApplyBatch(*node->replica, b).ok());
  // Any request makes the writer collect a view with horizon 9.
  ASSERT_TRUE(node->replica->RefuseLocalCommits(absl::UnavailableError("x")).ok());
  EXPECT_EQ(node->replica->PinSnapshot(5).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Replica::SnapshotPin> ahead = node->replica->PinSnapshot(10);
  ASSERT_TRUE(ahead.ok()) << ahead.status();
  EXPECT_EQ(node->replica->WaitVisible(10, absl::Milliseconds(20)).code(),
            absl::StatusCode::kDeadlineExceeded);
  OwnedBatch next;
  next.commits.push_back({10, {{"a", "2", false}}});
  ASSERT_TRUE(ApplyBatch(*node->replica, next).ok());
  // The pin at 10, made before 10 was applied, reads it.
  ASSERT_TRUE(node->replica->WaitVisible(10, absl::Seconds(5)).ok());
  EXPECT_EQ(ReadAll(*node->replica, *ahead, 16),
            (std::vector<std::tuple<std::string, std::string, uint64_t>>{{"a", "2", 10}}));
}

// Property: a restore is atomic for readers; a reader never sees a state
// that is neither the old one nor the snapshot's.
TEST(ReplicaTest, RestoreShowsAtOnce) {
  auto node = NewNode(false);
  OwnedBatch b;
  for (int i = 0; i < 200; ++i) {
    b.commits.push_back({static_cast<uint64_t>(i + 1),
                         {{absl::StrCat("key", i), "old", false}}});
  }
  ASSERT_TRUE(ApplyBatch(*node->replica, b).ok());
  std::vector<std::tuple<std::string, std::string, uint64_t>> snapshot;
  for (int i = 0; i < 200; i += 2) {
    snapshot.emplace_back(absl::StrCat("key", i), "new", 300);
  }
  std::sort(snapshot.begin(), snapshot.end());
  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto kvs = node->db->Scan("", "");
      if (!kvs.ok()) continue;  // a scan revoked by the restore
      int old_count = 0, new_count = 0;
      for (const KeyValue& kv : *kvs) (kv.value == "old" ? old_count : new_count)++;
      if (!(old_count == 200 && new_count == 0) &&
          !(old_count == 0 && new_count == 100)) {
        mixed.fetch_add(1);
      }
    }
  });
  ASSERT_TRUE(RestoreFrom(*node->replica, 300, snapshot).ok());
  stop.store(true);
  reader.join();
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_EQ(State(*node->db), snapshot);
  EXPECT_EQ(node->db->GetStats().live_keys, 100u);
}

// Every event of `watch` until it has nothing more (commit ts and keys).
std::vector<std::pair<uint64_t, std::vector<std::string>>> Drain(
    Watch& watch) {
  std::vector<std::pair<uint64_t, std::vector<std::string>>> out;
  while (true) {
    absl::StatusOr<WatchEvent> e = watch.Next(absl::InfinitePast());
    if (!e.ok()) {
      EXPECT_TRUE(absl::IsDeadlineExceeded(e.status())) << e.status();
      return out;
    }
    std::vector<std::string> keys;
    for (const WatchChange& c : e->changes) {
      keys.push_back(absl::StrCat(c.key, c.deleted ? "-" : "=", c.value));
    }
    out.emplace_back(e->commit_ts, std::move(keys));
  }
}

// Property: a watch on a follower sees exactly what the same watch on the
// leader sees: the replicated commits, grouped per commit, at the leader's
// timestamps, in order, once each.
TEST(ReplicaTest, AWatchOnAFollowerGetsTheReplicatedCommits) {
  auto leader = NewNode(true);
  auto follower = NewNode(false);
  auto on_leader = leader->db->Watch(WatchRange::Prefix("")).value();
  auto on_follower = follower->db->Watch(WatchRange::Prefix("")).value();
  auto t_on_leader = leader->db->Watch(WatchRange::Prefix("t")).value();
  auto t_on_follower = follower->db->Watch(WatchRange::Prefix("t")).value();
  WriteHistory(*leader->db, 6);
  for (const OwnedBatch& batch : leader->durability.batches()) {
    ASSERT_TRUE(ApplyBatch(*follower->replica, batch).ok());
  }
  const auto want = Drain(*on_leader);
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(Drain(*on_follower), want);
  const auto want_t = Drain(*t_on_leader);
  EXPECT_FALSE(want_t.empty());
  EXPECT_LT(want_t.size(), want.size());
  EXPECT_EQ(Drain(*t_on_follower), want_t);
}

// Property: a restore replaces the state under open watches, so they end
// as fallen behind (ResourceExhausted), and resuming them is "compacted"
// with the snapshot's timestamp + 1, which works.
TEST(ReplicaTest, ARestoreEndsOpenWatchesAndResumingIsCompacted) {
  auto node = NewNode(false);
  auto watch = node->db->Watch(WatchRange::Prefix("")).value();
  ASSERT_TRUE(RestoreFrom(*node->replica, 9, {{"a", "1", 3}, {"b", "2", 9}})
                  .ok());
  absl::StatusOr<WatchEvent> e = watch->Next(absl::InfinitePast());
  ASSERT_EQ(e.status().code(), absl::StatusCode::kResourceExhausted)
      << e.status();
  const std::optional<uint64_t> restart = WatchRestartTs(e.status());
  ASSERT_TRUE(restart.has_value());
  // The watch started at 1 and saw nothing before the restore.
  EXPECT_EQ(*restart, 1u);
  auto resumed = node->db->Watch(WatchRange::Prefix(""), *restart);
  EXPECT_EQ(resumed.status().code(), absl::StatusCode::kOutOfRange)
      << resumed.status();
  EXPECT_EQ(WatchRestartTs(resumed.status()), uint64_t{10});
  EXPECT_TRUE(node->db->Watch(WatchRange::Prefix(""), 10).ok());
}

}  // namespace
}  // namespace mvkv
