// Membership changes of a real-process mvkv cluster (three mvkv_server
// processes, in memory, a log compacted every 32 entries) while two writer
// threads of the test keep a write load and their own acknowledgment logs
// (autocommit Puts through a client of every node, following the leader by
// itself; a failed Put is an unknown outcome, not acked). The changes are
// made the way an operator makes them: with the `mvkv` CLI binary.
//
// Steps: a fresh 4th node started with --join is added (`mvkv cluster add`,
// sent to a follower first: the CLI follows it to the leader); a follower
// of the first three is removed (`mvkv cluster remove`); leadership is
// handed to the new node (`mvkv cluster transfer 4`); the writers run
// through all three. Then, without load, the two other voters are removed
// and removing the last one is tried.
//
// Properties checked:
//   * the new node catches up by a snapshot install (the group's log was
//     compacted before it was added), becomes a voter, and after the load
//     its stale full scan equals the leader's (keys, values, commit
//     timestamps), as does every other member's;
//   * after the transfer the new node leads and the writers' acks go on;
//   * 0 acknowledged writes lost: every acked key is on the final leader at
//     exactly its acked commit timestamp;
//   * commit timestamps never go backwards: each writer's acked commits
//     (each sent after the previous one's ack) have increasing ones;
//   * removing the last voter is refused (exit 3, FAILED_PRECONDITION, "last
//     voter") and changes nothing: the node stays the one voter and serves.
// The seed (the follower removed, value sizes) is logged; MVKV_TEST_SEED
// sets it. A second test runs `mvkv batch --pipeline` through a follower
// alone: it runs on the leader.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace mvkv::testing {
namespace {

constexpr int kWriters = 2;
constexpr int kMaxWritesPerWriter = 200000;  // a bound; the time ends first
constexpr absl::Duration kLoadLimit = absl::Seconds(150);

// One writer's acknowledgment log (the writer thread's alone until joined).
struct Writer {
  std::map<std::string, uint64_t> acked;  // key -> commit ts
  int unknown = 0;                        // failed Puts (outcome unknown)
  int backwards = 0;                      // acks not above the previous
  std::thread thread;
};

void WriteLoop(const ProcessCluster* cluster, int w, uint64_t seed,
               Writer* out, std::atomic<int>* acks,
               const std::atomic<bool>* stop) {
  client::ClientOptions o;
  o.timeout = absl::Seconds(5);
  auto c = cluster->ClusterClient(o);
  std::mt19937_64 rng(seed + w);
  const absl::Time give_up = absl::Now() + kLoadLimit;
  uint64_t last = 0;
  // Bound: kMaxWritesPerWriter, kLoadLimit, or the stop flag.
  for (int n = 0; n < kMaxWritesPerWriter && !stop->load() &&
                  absl::Now() < give_up;
       ++n) {
    const std::string key = absl::StrCat("w", w, "/", n);
    auto ts = c->Put(key, std::string(1 + rng() % 64, 'a' + n % 26));
    if (!ts.ok()) {
      ++out->unknown;
      continue;
    }
    if (*ts <= last) {
      ++out->backwards;
      std::fprintf(stderr, "writer %d: commit ts %llu after %llu\n", w,
                   static_cast<unsigned long long>(*ts),
                   static_cast<unsigned long long>(last));
    }
    last = *ts;
    out->acked[key] = *ts;
    acks->fetch_add(1);
  }
}

// Waits (bounded by `timeout`, polling) until `done` holds.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  // Bound: the deadline.
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

class MembershipTest : public ::testing::Test {
 protected:
  // Runs the real CLI: mvkv --server=`servers` --timeout=30 `args`...
  ProcessResult Cli(const std::string& servers,
                    const std::vector<std::string>& args) {
    std::vector<std::string> argv = {Runfile("client/mvkv"),
                                     "--server=" + servers, "--timeout=30"};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = RunProcess(argv);
    std::fprintf(stderr, "mvkv %s -> %d\n  out: %s  err: %s\n",
                 absl::StrJoin(args, " ").c_str(), r.exit_code, r.out.c_str(),
                 r.err.c_str());
    return r;
  }

  // Node i's own Cluster.Status ("" role if it did not answer).
  client::ClusterStatus Status(int i) {
    auto s = cluster_.NodeClient(i)->GetClusterStatus();
    return s.ok() ? *s : client::ClusterStatus();
  }

  static int Voters(const client::ClusterStatus& s) {
    int n = 0;
    for (const client::ClusterMember& m : s.members) {
      n += m.membership == "voter" ? 1 : 0;
    }
    return n;
  }
  static bool HasMember(const client::ClusterStatus& s, uint64_t id) {
    for (const client::ClusterMember& m : s.members) {
      if (m.id == id) return true;
    }
    return false;
  }

  // The leader's linearizable full scan equals every running node's stale
  // one. Retried (bounded): a Put whose call timed out may still commit
  // after the load stopped, between two scans.
  void ExpectScansEqual(int leader) {
    std::string diff;
    const bool equal = WaitUntil(
        [&] {
          auto l = cluster_.NodeClient(leader)->Scan("", "");
          if (!l.ok()) return false;
          for (int n = 0; n < cluster_.size(); ++n) {
            if (!cluster_.running(n) || n == leader) continue;
            auto s = cluster_.NodeClient(n)->Scan("", "", 0,
                                                  client::Consistency::kStale);
            if (!s.ok() || s->kvs.size() != l->kvs.size()) {
              diff = absl::StrCat("node ", n + 1, ": ",
                                  s.ok() ? s->kvs.size() : 0, " pairs, leader ",
                                  l->kvs.size());
              return false;
            }
            for (std::size_t i = 0; i < l->kvs.size(); ++i) {
              if (s->kvs[i].key != l->kvs[i].key ||
                  s->kvs[i].value != l->kvs[i].value ||
                  s->kvs[i].commit_ts != l->kvs[i].commit_ts) {
                diff = absl::StrCat("node ", n + 1, " differs at ",
                                    l->kvs[i].key);
                return false;
              }
            }
          }
          return true;
        },
        absl::Seconds(30));
    EXPECT_TRUE(equal) << diff;
  }

  ProcessCluster cluster_{3, /*persistent=*/false,
                          {"--snapshot_threshold=32", "--max_log_bytes=65536"}};
};

uint64_t Seed() {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("MVKV_TEST_SEED")) {
    seed = std::strtoull(s, nullptr, 10);
  }
  std::fprintf(stderr, "seed %llu (MVKV_TEST_SEED to repeat)\n",
               static_cast<unsigned long long>(seed));
  return seed;
}

TEST_F(MembershipTest, JoinRemoveAndTransferUnderLoadLoseNothing) {
  const uint64_t seed = Seed();
  std::mt19937_64 rng(seed);
  const int fresh = cluster_.AddJoiningNode();  // node id fresh + 1 = 4
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cluster_.Start(i).ok());
  int leader = cluster_.WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0) << "no leader elected";

  std::atomic<bool> stop{false};
  std::atomic<int> acks{0};
  std::vector<Writer> writers(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers[w].thread = std::thread(WriteLoop, &cluster_, w, seed,
                                    &writers[w], &acks, &stop);
  }
  // Stops and joins the writers however the test ends.
  struct Joiner {
    std::atomic<bool>* stop;
    std::vector<Writer>* writers;
    ~Joiner() { Join(); }
    void Join() {
      stop->store(true);
      for (Writer& w : *writers) {
        if (w.thread.joinable()) w.thread.join();
      }
    }
  } joiner{&stop, &writers};

  // The log is compacted before the new node exists: it needs a snapshot.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const client::ClusterStatus s = Status(leader);
        return acks.load() >= 1000 && s.snapshots_taken > 0 &&
               s.snapshot_index > 32;
      },
      absl::Seconds(60)))
      << "acks " << acks.load() << "; no compaction on the leader";

  ASSERT_TRUE(cluster_.Start(fresh).ok());
  const std::string fresh_id = absl::StrCat(fresh + 1);
  const int follower = (leader + 1) % 3;
  ProcessResult add = Cli(
      absl::StrCat(cluster_.address(follower), ",", cluster_.address(leader)),
      {"cluster", "add", fresh_id, cluster_.raft_address(fresh),
       cluster_.address(fresh)});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  EXPECT_EQ(add.out, absl::StrCat("added node ", fresh_id, "\n"));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return Status(fresh).snapshots_installed > 0 &&
               Voters(Status(fresh)) == 4;
      },
      absl::Seconds(30)))
      << "node " << fresh_id << " installed no snapshot or is not a voter";

  // Remove one of the first three's followers, chosen by the seed.
  leader = cluster_.WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  std::vector<int> followers;
  for (int i = 0; i < 3; ++i) {
    if (i != leader) followers.push_back(i);
  }
  const int removed = followers[rng() % followers.size()];
  const int acks_before_remove = acks.load();
  ProcessResult remove = Cli(cluster_.addresses(),
                             {"cluster", "remove", absl::StrCat(removed + 1)});
  ASSERT_EQ(remove.exit_code, 0) << remove.err;
  EXPECT_EQ(remove.out, absl::StrCat("removed node ", removed + 1, "\n"));
  EXPECT_TRUE(WaitUntil(
      [&] {
        const client::ClusterStatus s = Status(fresh);
        return !HasMember(s, removed + 1) && Voters(s) == 3;
      },
      absl::Seconds(30)));
  cluster_.Kill(removed);  // decommissioned

  // Hand leadership to the new node while the writers go on.
  ASSERT_TRUE(WaitUntil([&] { return acks.load() > acks_before_remove + 100; },
                        absl::Seconds(30)))
      << "no acks after the remove";
  ProcessResult transfer =
      Cli(cluster_.addresses(), {"cluster", "transfer", fresh_id});
  ASSERT_EQ(transfer.exit_code, 0) << transfer.err;
  EXPECT_EQ(transfer.out,
            absl::StrCat("leader is now node ", fresh_id, " at ",
                         cluster_.address(fresh), "\n"));
  EXPECT_TRUE(WaitUntil([&] { return Status(fresh).role == "leader"; },
                        absl::Seconds(5)));
  const int acks_at_transfer = acks.load();
  ASSERT_TRUE(WaitUntil([&] { return acks.load() > acks_at_transfer + 300; },
                        absl::Seconds(30)))
      << "no acks after the transfer";
  joiner.Join();

  int acked = 0;
  for (int w = 0; w < kWriters; ++w) {
    std::fprintf(stderr, "writer %d: %zu acked, %d unknown\n", w,
                 writers[w].acked.size(), writers[w].unknown);
    EXPECT_EQ(writers[w].backwards, 0) << "writer " << w;
    acked += static_cast<int>(writers[w].acked.size());
  }
  leader = cluster_.WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0);
  EXPECT_EQ(leader, fresh) << "leadership moved again";
  {
    auto scan = cluster_.NodeClient(leader)->Scan("w", "x");
    ASSERT_TRUE(scan.ok()) << scan.status();
    std::map<std::string, uint64_t> present;
    for (const client::KeyValue& kv : scan->kvs) present[kv.key] = kv.commit_ts;
    int lost = 0;
    for (const Writer& w : writers) {
      for (const auto& [key, ts] : w.acked) {
        auto it = present.find(key);
        if (it != present.end() && it->second == ts) continue;
        if (++lost <= 10) {
          std::fprintf(stderr, "lost: %s @%llu\n", key.c_str(),
                       static_cast<unsigned long long>(ts));
        }
      }
    }
    EXPECT_EQ(lost, 0) << "of " << acked << " acked writes";
  }
  ExpectScansEqual(leader);

  // Down to one voter, then the last one: refused, nothing changed.
  for (int i = 0; i < 3; ++i) {
    if (i == removed || i == leader) continue;
    ProcessResult r =
        Cli(cluster_.addresses(), {"cluster", "remove", absl::StrCat(i + 1)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  ASSERT_TRUE(WaitUntil([&] { return Status(leader).members.size() == 1; },
                        absl::Seconds(30)));
  ProcessResult last =
      Cli(cluster_.address(leader), {"cluster", "remove", fresh_id});
  EXPECT_EQ(last.exit_code, 3);
  EXPECT_TRUE(absl::StrContains(last.err, "FAILED_PRECONDITION")) << last.err;
  EXPECT_TRUE(absl::StrContains(last.err, "last voter")) << last.err;
  const client::ClusterStatus after = Status(leader);
  EXPECT_EQ(after.role, "leader");
  EXPECT_EQ(Voters(after), 1);
  EXPECT_TRUE(HasMember(after, fresh + 1));
  EXPECT_TRUE(cluster_.NodeClient(leader)->Put("after/last", "1").ok());
}

// Property: `mvkv batch --pipeline` given only a follower's address runs on
// the leader (the Pipeline follows mvkv-leader before any operation goes
// out): every put is answered OK once, each is on the leader at the commit
// timestamp the CLI printed, and the follower applied none as its own.
TEST_F(MembershipTest, CliBatchPipelineThroughAFollowerRunsOnTheLeader) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cluster_.Start(i).ok());
  const int leader = cluster_.WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0) << "no leader elected";
  const int follower = (leader + 1) % 3;
  constexpr int kPuts = 20;
  std::string text;
  for (int i = 0; i < kPuts; ++i) absl::StrAppend(&text, "put cb/", i, " v", i, "\n");
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string file = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/batch.txt");
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
  const ProcessResult r =
      Cli(cluster_.address(follower), {"batch", "--pipeline", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), kPuts) << r.out;
  auto on_leader = cluster_.NodeClient(leader);
  for (int i = 0; i < kPuts; ++i) {
    auto kv = on_leader->Get(absl::StrCat("cb/", i));
    ASSERT_TRUE(kv.ok()) << i << ": " << kv.status();
    EXPECT_EQ(kv->value, absl::StrCat("v", i));
    EXPECT_EQ(lines[i], absl::StrCat("OK commit_ts=", kv->commit_ts)) << i;
  }
}

}  // namespace
}  // namespace mvkv::testing
