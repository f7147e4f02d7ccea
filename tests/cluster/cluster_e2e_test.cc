// Three real mvkv_server processes in one Raft group on 127.0.0.1.
//
// Properties checked:
//   * a leader is elected and serves; writes through a client that knows
//     every node are read back (value and commit timestamp) linearizably;
//   * every follower refuses writes, deletes, CompareAndCommit, handle and
//     session begins and linearizable reads with UNAVAILABLE and trailing
//     metadata mvkv-leader = the leader's client address, and the refused
//     write is not applied anywhere;
//   * a client whose first address is a follower follows mvkv-leader;
//   * stale reads on each follower converge to the leader's state and report
//     a read timestamp at or past the commit they see;
//   * after the load, full stale scans of all replicas are identical
//     (keys, values and commit timestamps);
//   * a follower's Cluster.Status call is counted in its per-method RPC
//     metrics (mvkv_rpc_total{method="Cluster.Status",code="OK"} is 1);
//   * a Pipeline opened by a client that names only a follower (and one
//     naming a follower first) is refused by it, follows mvkv-leader and
//     runs on the leader: every put and get answered OK, every put applied
//     once (the leader's commit counter grows by exactly the puts, and each
//     key's version is the acked one), the follower refused one stream;
//   * an interactive transaction open on a leader that loses its
//     leadership (SIGSTOP until another node leads, then SIGCONT) fails at
//     its commit with UNAVAILABLE "not the leader", and none of its writes
//     is applied on any node;
//   * with the read lease (data directories, --read_lease=true): unary
//     linearizable Gets sent to a leader stopped (SIGSTOP) past the election
//     timeout and deposed meanwhile by a leader that committed a newer
//     value, sent while it is stopped and right after SIGCONT, never return
//     the old value: each fails (UNAVAILABLE) or returns the new one. They
//     race the resumed leader's loop, which learns of the new term at once;
//     only the lease's clock bound keeps a read that wins the race honest.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/cluster.grpc.pb.h"
#include "proto/kv.grpc.pb.h"
#include "tests/cluster/process_cluster.h"

namespace mvkv::testing {
namespace {

constexpr int kKeys = 200;

std::string Key(int i) { return absl::StrCat("k/", 1000 + i); }

// The value of the mvkv_rpc_total sample for (method, code) in a scrape of
// `metrics_port`; -1 if absent.
double RpcTotal(int metrics_port, const std::string& method,
                const std::string& code) {
  const std::string body = HttpGet(metrics_port, "/metrics");
  const std::string m = absl::StrCat("method=\"", method, "\"");
  const std::string c = absl::StrCat("code=\"", code, "\"");
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::StartsWith(line, "mvkv_rpc_total{") ||
        !absl::StrContains(line, m) || !absl::StrContains(line, c)) {
      continue;
    }
    double value = -1;
    return absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value) ? value
                                                                      : -1;
  }
  return -1;
}

// The value of the unlabelled sample `name` in a scrape of `metrics_port`;
// -1 if absent.
double Sample(int metrics_port, const std::string& name) {
  const std::string body = HttpGet(metrics_port, "/metrics");
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::StartsWith(line, absl::StrCat(name, " "))) continue;
    double value = -1;
    return absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value) ? value
                                                                      : -1;
  }
  return -1;
}

// The mvkv-leader trailer of a finished call ("<absent>" if none).
std::string LeaderTrailer(const grpc::ClientContext& context) {
  const auto& t = context.GetServerTrailingMetadata();
  auto it = t.find("mvkv-leader");
  return it == t.end() ? "<absent>" : std::string(it->second.data(),
                                                  it->second.size());
}

class ClusterE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cluster_.StartAll(), absl::OkStatus());
    leader_ = cluster_.WaitForLeader(absl::Seconds(30));
    ASSERT_GE(leader_, 0) << "no leader elected";
  }

  ProcessCluster cluster_{3, /*persistent=*/false,
                          {"--metrics_listen=127.0.0.1:0"}};
  int leader_ = -1;
};

TEST_F(ClusterE2eTest, FollowersRedirectAndReplicasConverge) {
  auto client = cluster_.ClusterClient();
  std::vector<uint64_t> acked(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    auto ts = client->Put(Key(i), absl::StrCat("v", i));
    ASSERT_TRUE(ts.ok()) << ts.status();
    acked[i] = *ts;
    if (i > 0) {
      EXPECT_GT(acked[i], acked[i - 1]);
    }
  }
  for (int i = 0; i < kKeys; ++i) {
    auto kv = client->Get(Key(i));
    ASSERT_TRUE(kv.ok()) << kv.status();
    EXPECT_EQ(kv->value, absl::StrCat("v", i));
    EXPECT_EQ(kv->commit_ts, acked[i]);
  }

  const std::string leader_address = cluster_.address(leader_);
  for (int f = 0; f < cluster_.size(); ++f) {
    if (f == leader_) continue;
    SCOPED_TRACE(absl::StrCat("follower ", f + 1));
    auto channel = grpc::CreateChannel(cluster_.address(f),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::KV::NewStub(channel);
    auto expect_redirect = [&](const grpc::Status& s,
                               const grpc::ClientContext& c) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
          << s.error_message();
      EXPECT_EQ(LeaderTrailer(c), leader_address) << s.error_message();
    };
    {
      grpc::ClientContext c;
      v1::PutRequest r;
      r.set_key("refused/put");
      v1::PutResponse out;
      expect_redirect(stub->Put(&c, r, &out), c);
    }
    {
      grpc::ClientContext c;
      v1::DeleteRequest r;
      r.set_key(Key(0));
      v1::DeleteResponse out;
      expect_redirect(stub->Delete(&c, r, &out), c);
    }
    {
      grpc::ClientContext c;
      v1::GetRequest r;
      r.set_key(Key(0));
      v1::GetResponse out;
      expect_redirect(stub->Get(&c, r, &out), c);
    }
    {
      grpc::ClientContext c;
      v1::BeginTxnRequest r;
      v1::BeginTxnResponse out;
      expect_redirect(stub->BeginTxn(&c, r, &out), c);
    }
    {
      // A Batch (a read and a write) is refused whole: no stale read.
      grpc::ClientContext c;
      v1::BatchRequest r;
      r.add_ops()->mutable_get()->set_key(Key(0));
      r.add_ops()->mutable_put()->set_key("refused/batch");
      v1::BatchResponse out;
      expect_redirect(stub->Batch(&c, r, &out), c);
      EXPECT_EQ(out.results_size(), 0);
    }
    {
      // A Pipeline stream is refused whole, before anything is read: its
      // put is applied nowhere.
      grpc::ClientContext c;
      auto stream = stub->Pipeline(&c);
      v1::PipelineRequest r;
      v1::AutocommitOp* op = r.add_ops();
      op->set_id(1);
      op->mutable_put()->set_key("refused/pipeline");
      stream->Write(r);
      v1::PipelineResponse out;
      EXPECT_FALSE(stream->Read(&out)) << "a follower answered an op";
      expect_redirect(stream->Finish(), c);
    }
    {
      // mvkv.v1.Cluster is registered: any node names every member and
      // the leader's client address.
      grpc::ClientContext c;
      v1::ClusterStatusRequest r;
      v1::ClusterStatusResponse out;
      const grpc::Status s =
          v1::Cluster::NewStub(channel)->Status(&c, r, &out);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(out.members_size(), cluster_.size());
      EXPECT_EQ(out.leader_client_address(), leader_address);
      EXPECT_EQ(RpcTotal(cluster_.process(f)->metrics_port(),
                         "Cluster.Status", "OK"),
                1);
    }
    {
      grpc::ClientContext c;
      v1::CompareAndCommitRequest r;
      r.add_success()->mutable_put()->set_key("refused/cas");
      v1::CompareAndCommitResponse out;
      expect_redirect(stub->CompareAndCommit(&c, r, &out), c);
    }
    {
      grpc::ClientContext c;
      auto stream = stub->Session(&c);
      v1::SessionRequest begin;
      begin.mutable_begin();
      v1::SessionResponse out;
      stream->Write(begin);
      EXPECT_FALSE(stream->Read(&out)) << "a follower began a transaction";
      expect_redirect(stream->Finish(), c);
    }
    // A client whose first address is this follower follows the leader.
    client::ClientOptions o;
    o.server = absl::StrCat(cluster_.address(f), ",",
                            cluster_.address((f + 1) % 3));
    auto follower_first = *client::Client::Connect(o);
    auto ts = follower_first->Put("followed", absl::StrCat(f));
    ASSERT_TRUE(ts.ok()) << ts.status();
    auto txn = follower_first->Begin();
    ASSERT_TRUE(txn.ok()) << txn.status();
    ASSERT_TRUE((*txn)->Put("followed/txn", absl::StrCat(f)).ok());
    ASSERT_TRUE((*txn)->Commit().ok());
  }
  EXPECT_TRUE(absl::IsNotFound(client->Get("refused/put").status()));
  EXPECT_TRUE(absl::IsNotFound(client->Get("refused/cas").status()));
  EXPECT_TRUE(absl::IsNotFound(client->Get("refused/pipeline").status()));

  // Stale reads converge on every node; then full scans agree.
  auto last = client->Get("followed/txn");
  ASSERT_TRUE(last.ok()) << last.status();
  std::vector<client::ScanResult> scans(cluster_.size());
  for (int n = 0; n < cluster_.size(); ++n) {
    auto node = cluster_.NodeClient(n);
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    uint64_t read_ts = 0;
    // Bound: the deadline.
    while (true) {
      auto kv = node->Get("followed/txn", client::Consistency::kStale,
                          &read_ts);
      if (kv.ok() && kv->commit_ts == last->commit_ts) break;
      ASSERT_LT(absl::Now(), deadline) << "node " << n + 1 << " never caught up";
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_GE(read_ts, last->commit_ts);
    auto scan = node->Scan("", "", 0, client::Consistency::kStale);
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_GE(scan->snapshot_ts, last->commit_ts);
    scans[n] = *std::move(scan);
  }
  ASSERT_EQ(scans[0].kvs.size(), kKeys + 2);
  for (int n = 1; n < cluster_.size(); ++n) {
    ASSERT_EQ(scans[n].kvs.size(), scans[0].kvs.size()) << "node " << n + 1;
    for (std::size_t i = 0; i < scans[0].kvs.size(); ++i) {
      EXPECT_EQ(scans[n].kvs[i].key, scans[0].kvs[i].key);
      EXPECT_EQ(scans[n].kvs[i].value, scans[0].kvs[i].value);
      EXPECT_EQ(scans[n].kvs[i].commit_ts, scans[0].kvs[i].commit_ts);
    }
  }
}

// Property: a Pipeline on the leader answers each operation once, under its
// id, with that operation's result; its acked puts are replicated (every
// replica's stale read reaches them at their acked timestamps); a get or
// delete started after a put's result sees that put (linearizable reads),
// STALE gets are served too.
TEST_F(ClusterE2eTest, PipelineOnTheLeaderReplicatesAndReadsItsWrites) {
  constexpr int kOps = 300;
  auto node = cluster_.NodeClient(leader_);
  auto pipeline = node->OpenPipeline();
  std::vector<absl::StatusOr<uint64_t>> put_ts(kOps, absl::UnknownError(""));
  for (int i = 0; i < kOps; ++i) {
    pipeline->Start(client::Op::Put(absl::StrCat("p/", i), absl::StrCat(i)),
                    [&put_ts, i](client::OpOutcome o) {
                      put_ts[i] = o.status.ok()
                                      ? absl::StatusOr<uint64_t>(
                                            o.result.commit_ts)
                                      : o.status;
                    });
  }
  pipeline->Wait();
  for (int i = 0; i < kOps; ++i) {
    ASSERT_TRUE(put_ts[i].ok()) << i << ": " << put_ts[i].status();
  }
  std::vector<client::OpOutcome> got(kOps);
  for (int i = 0; i < kOps; ++i) {
    // Deletes of the first tenth, gets of the rest, interleaved.
    const std::string key = absl::StrCat("p/", i);
    pipeline->Start(i < kOps / 10 ? client::Op::Delete(key)
                                  : client::Op::Get(key),
                    [&got, i](client::OpOutcome o) { got[i] = std::move(o); });
  }
  pipeline->Wait();
  for (int i = 0; i < kOps; ++i) {
    ASSERT_TRUE(got[i].status.ok()) << i << ": " << got[i].status;
    if (i < kOps / 10) {
      EXPECT_TRUE(got[i].result.existed) << i;
      EXPECT_GT(got[i].result.commit_ts, *put_ts[kOps - 1]) << i;
    } else {
      EXPECT_EQ(got[i].result.kv.value, absl::StrCat(i)) << i;
      EXPECT_EQ(got[i].result.kv.commit_ts, *put_ts[i]) << i;
    }
  }
  EXPECT_TRUE(pipeline->status().ok()) << pipeline->status();
  pipeline.reset();

  // A STALE get through the wire (the client library's are linearizable).
  {
    grpc::ClientContext c;
    auto stub = v1::KV::NewStub(grpc::CreateChannel(
        cluster_.address(leader_), grpc::InsecureChannelCredentials()));
    auto stream = stub->Pipeline(&c);
    v1::PipelineRequest r;
    v1::AutocommitOp* op = r.add_ops();
    op->set_id(7);
    op->mutable_get()->set_key(absl::StrCat("p/", kOps - 1));
    op->mutable_get()->set_consistency(v1::STALE);
    ASSERT_TRUE(stream->Write(r));
    v1::PipelineResponse out;
    ASSERT_TRUE(stream->Read(&out));
    ASSERT_EQ(out.results_size(), 1);
    EXPECT_EQ(out.results(0).id(), 7u);
    EXPECT_EQ(out.results(0).code(), 0) << out.results(0).message();
    EXPECT_EQ(out.results(0).get().kv().commit_ts(), *put_ts[kOps - 1]);
    stream->WritesDone();
    EXPECT_TRUE(stream->Finish().ok());
  }

  // Replicated: every node reaches the last put at its timestamp, and the
  // deletes.
  for (int n = 0; n < cluster_.size(); ++n) {
    auto replica = cluster_.NodeClient(n);
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    // Bound: the deadline.
    while (true) {
      auto last = replica->Get(absl::StrCat("p/", kOps - 1),
                               client::Consistency::kStale);
      auto first =
          replica->Get("p/0", client::Consistency::kStale);
      if (last.ok() && last->commit_ts == *put_ts[kOps - 1] &&
          absl::IsNotFound(first.status())) {
        break;
      }
      ASSERT_LT(absl::Now(), deadline) << "node " << n + 1 << " lags";
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
}

// Property: a Pipeline opened through a follower finds the leader itself
// (mvkv-leader), and nothing of it is applied twice or lost: the follower
// refused the stream before reading it, the client sent its operations
// only on the stream the leader accepted.
TEST_F(ClusterE2eTest, PipelineThroughAFollowerFollowsTheLeaderOnce) {
  constexpr int kOps = 200;
  const int f = (leader_ + 1) % cluster_.size();
  const int leader_port = cluster_.process(leader_)->metrics_port();
  const double commits_before = Sample(leader_port, "mvkv_commits_total");
  ASSERT_GE(commits_before, 0);
  int round = 0;
  // Only the follower named (told to follow), then the follower first of
  // two (a client of several servers follows by default).
  for (const std::string& servers :
       {cluster_.address(f),
        absl::StrCat(cluster_.address(f), ",",
                     cluster_.address((f + 1) % cluster_.size()))}) {
    SCOPED_TRACE(servers);
    client::ClientOptions o;
    o.server = servers;
    auto c = *client::Client::Connect(o);
    client::PipelineOptions po;
    po.follow_leader = round == 0;
    auto pipeline = c->OpenPipeline(po);
    ASSERT_TRUE(pipeline->status().ok()) << pipeline->status();
    std::vector<client::OpOutcome> put(kOps);
    for (int i = 0; i < kOps; ++i) {
      pipeline->Start(
          client::Op::Put(absl::StrCat("fp/", round, "/", i),
                          absl::StrCat(i)),
          [&put, i](client::OpOutcome o) { put[i] = std::move(o); });
    }
    pipeline->Wait();
    std::vector<client::OpOutcome> got(kOps);
    for (int i = 0; i < kOps; ++i) {
      pipeline->Start(client::Op::Get(absl::StrCat("fp/", round, "/", i)),
                      [&got, i](client::OpOutcome o) { got[i] = std::move(o); });
    }
    pipeline->Wait();
    for (int i = 0; i < kOps; ++i) {
      ASSERT_TRUE(put[i].status.ok()) << i << ": " << put[i].status;
      ASSERT_TRUE(got[i].status.ok()) << i << ": " << got[i].status;
      EXPECT_EQ(got[i].result.kv.value, absl::StrCat(i));
      EXPECT_EQ(got[i].result.kv.commit_ts, put[i].result.commit_ts) << i;
    }
    EXPECT_TRUE(pipeline->status().ok()) << pipeline->status();
    ++round;
    EXPECT_EQ(RpcTotal(cluster_.process(f)->metrics_port(), "Pipeline",
                       "UNAVAILABLE"),
              round);
  }
  // On the leader itself: each key once, at its acked version.
  auto on_leader = cluster_.NodeClient(leader_);
  for (int r = 0; r < round; ++r) {
    auto scan = on_leader->Scan(absl::StrCat("fp/", r, "/"),
                                absl::StrCat("fp/", r, "0"));
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_EQ(scan->kvs.size(), kOps);
  }
  EXPECT_EQ(Sample(leader_port, "mvkv_commits_total") - commits_before,
            round * kOps);
}

TEST_F(ClusterE2eTest, TxnOfADeposedLeaderFailsWhole) {
  auto on_leader = cluster_.NodeClient(leader_);
  auto txn = on_leader->Begin();
  ASSERT_TRUE(txn.ok()) << txn.status();
  ASSERT_TRUE((*txn)->Put("lost/a", "1").ok());
  ASSERT_TRUE((*txn)->Put("lost/b", "1").ok());
  // A Pipeline stream open on the leader, too.
  auto pipeline = on_leader->OpenPipeline();
  std::atomic<int> opened{-1};
  pipeline->Start(client::Op::Put("before", "1"), [&](client::OpOutcome o) {
    opened = static_cast<int>(o.status.code());
  });
  pipeline->Wait();
  ASSERT_EQ(opened.load(), 0);

  ASSERT_EQ(kill(cluster_.process(leader_)->pid(), SIGSTOP), 0);
  const int next = cluster_.WaitForLeader(absl::Seconds(30), leader_);
  if (next < 0) {
    for (int n = 0; n < cluster_.size(); ++n) {
      const std::string log = cluster_.process(n)->Log();
      std::fprintf(stderr, "node %d log tail:\n%s\n", n + 1,
                   log.substr(log.size() > 3000 ? log.size() - 3000 : 0).c_str());
    }
  }
  ASSERT_GE(next, 0) << "no new leader while the old one is stopped";
  // Not a client of every node: the stopped one accepts connections (its
  // kernel does) but answers nothing until the call's deadline.
  auto client = cluster_.NodeClient(next);
  ASSERT_TRUE(client->Put("after", "1").ok());
  ASSERT_EQ(kill(cluster_.process(leader_)->pid(), SIGCONT), 0);
  // At once, on the deposed leader's stream: its get never answers with
  // the old state (NOT_FOUND); its refusal names the new leader.
  {
    client::OpOutcome read;
    pipeline->Start(client::Op::Get("after"),
                    [&](client::OpOutcome o) { read = std::move(o); });
    pipeline->Wait();
    if (read.status.ok()) {
      EXPECT_EQ(read.result.kv.value, "1");
    } else {
      EXPECT_TRUE(absl::IsUnavailable(read.status)) << read.status;
      EXPECT_NE(read.status.message().find("not the leader"),
                std::string::npos)
          << read.status;
    }
  }
  // Bound: the deadline. The old leader learns of the new term.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (on_leader->Get("after").ok() ||
         absl::IsNotFound(on_leader->Get("after").status())) {
    ASSERT_LT(absl::Now(), deadline) << "the old leader still serves";
    absl::SleepFor(absl::Milliseconds(20));
  }

  auto commit = (*txn)->Commit();
  ASSERT_FALSE(commit.ok()) << "a deposed leader committed at "
                            << *commit;
  EXPECT_TRUE(absl::IsUnavailable(commit.status())) << commit.status();
  EXPECT_NE(commit.status().message().find("not the leader"),
            std::string::npos)
      << commit.status();
  for (const char* key : {"lost/a", "lost/b"}) {
    EXPECT_TRUE(absl::IsNotFound(client->Get(key).status())) << key;
    for (int n = 0; n < cluster_.size(); ++n) {
      EXPECT_TRUE(absl::IsNotFound(
          cluster_.NodeClient(n)->Get(key, client::Consistency::kStale)
              .status()))
          << key << " on node " << n + 1;
    }
  }
}

TEST(ClusterLeaseE2eTest, UnaryGetsOnAStoppedDeposedLeaderNeverAnswerStale) {
  ProcessCluster cluster(3, /*persistent=*/true, {"--read_lease=true"});
  ASSERT_EQ(cluster.StartAll(), absl::OkStatus());
  const int leader = cluster.WaitForLeader(absl::Seconds(30));
  ASSERT_GE(leader, 0) << "no leader elected";
  auto on_leader = cluster.NodeClient(leader);
  ASSERT_TRUE(on_leader->Put("lease/k", "old").ok());
  constexpr int kReaders = 8;
  // Connected before the stop, so each read is on the wire at once.
  std::vector<std::unique_ptr<client::Client>> readers;
  for (int i = 0; i < 2 * kReaders; ++i) {
    readers.push_back(cluster.NodeClient(leader));
    auto r = readers.back()->Get("lease/k");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->value, "old");
  }

  ASSERT_EQ(kill(cluster.process(leader)->pid(), SIGSTOP), 0);
  const int next = cluster.WaitForLeader(absl::Seconds(30), leader);
  ASSERT_GE(next, 0) << "no new leader while the old one is stopped";
  ASSERT_TRUE(cluster.NodeClient(next)->Put("lease/k", "new").ok());

  std::vector<absl::StatusOr<client::KeyValue>> got(
      2 * kReaders, absl::UnknownError("not run"));
  std::atomic<int> sending{0};
  std::vector<std::thread> threads;
  // The first half is sent while the old leader is stopped...
  for (int i = 0; i < kReaders; ++i) {
    threads.emplace_back([&, i] {
      ++sending;
      got[i] = readers[i]->Get("lease/k");
    });
  }
  // Bound: the readers start at once.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (sending.load() < kReaders && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(kill(cluster.process(leader)->pid(), SIGCONT), 0);
  // ... the second half just after it resumes.
  for (int i = kReaders; i < 2 * kReaders; ++i) {
    threads.emplace_back([&, i] { got[i] = readers[i]->Get("lease/k"); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < 2 * kReaders; ++i) {
    if (got[i].ok()) {
      EXPECT_EQ(got[i]->value, "new") << "read " << i << " answered stale";
    } else {
      EXPECT_TRUE(absl::IsUnavailable(got[i].status()) ||
                  absl::IsDeadlineExceeded(got[i].status()))
          << "read " << i << ": " << got[i].status();
    }
  }
}

}  // namespace
}  // namespace mvkv::testing
