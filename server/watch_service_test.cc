// rpc Watch in process (server/watch_reactor.h): grouping per commit, commit
// order, exactly once, several watches per stream, cancel, progress, resume,
// a watcher that stops reading, every bad input and the stream's end on
// shutdown. The engine's own watch tests (mvcc/watch_test.cc) cover the
// change buffer; these check what the wire adds.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "proto/kv.grpc.pb.h"
#include "server/testing/in_process_server.h"

namespace mvkv::server {
namespace {

using Stream = grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>;

struct Change {
  std::string key;
  std::string value;
  bool deleted = false;
  bool operator==(const Change&) const = default;
};
struct Commit {
  uint64_t ts = 0;
  std::vector<Change> changes;  // in key order
  bool operator==(const Commit&) const = default;
};
void PrintTo(const Commit& c, std::ostream* os) {
  *os << "@" << c.ts << "{";
  for (const Change& ch : c.changes) {
    *os << ch.key << (ch.deleted ? "-" : "=" + ch.value) << " ";
  }
  *os << "}";
}

class WatchServiceTest : public ::testing::Test {
 protected:
  void Start(Options db = Options()) {
    server_ = std::make_unique<testing::InProcessServer>(
        testing::InProcessOptions{.db = db, .workers = 2});
    ASSERT_TRUE(server_->ok());
    stub_ = v1::KV::NewStub(server_->channel());
  }

  std::unique_ptr<Stream> Open(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(60));
    return stub_->Watch(context);
  }

  static v1::WatchRequest CreatePrefix(uint64_t id, const std::string& prefix,
                                       uint64_t start_ts = 0) {
    v1::WatchRequest r;
    r.mutable_create()->set_watch_id(id);
    r.mutable_create()->set_prefix(prefix);
    r.mutable_create()->set_start_ts(start_ts);
    return r;
  }

  // Reads responses until `id` has `created` (or fails the test).
  static uint64_t ExpectCreated(Stream& s, uint64_t id) {
    v1::WatchResponse r;
    EXPECT_TRUE(s.Read(&r));
    EXPECT_EQ(r.watch_id(), id);
    EXPECT_TRUE(r.has_created()) << r.DebugString();
    return r.created().start_ts();
  }

  // One commit of one key through the engine; its commit timestamp.
  uint64_t Put(const std::string& key, const std::string& value) {
    auto txn = server_->db().Begin();
    EXPECT_TRUE(txn->Put(key, value).ok());
    EXPECT_TRUE(txn->Commit().ok());
    return txn->commit_ts();
  }

  // One commit setting keys `prefix`0 .. `prefix`n-1 to `value` (in key
  // order for n <= 10, as the events list them).
  Commit PutKeys(const std::string& prefix, int n, const std::string& value) {
    auto txn = server_->db().Begin();
    Commit c{0, {}};
    for (int i = 0; i < n; ++i) {
      const std::string k = absl::StrCat(prefix, i);
      EXPECT_TRUE(txn->Put(k, value).ok());
      c.changes.push_back({k, value});
    }
    EXPECT_TRUE(txn->Commit().ok());
    c.ts = txn->commit_ts();
    return c;
  }

  // Appends `commit`'s changes to *c.
  static void AddChanges(const v1::WatchCommit& commit, Commit* c) {
    for (const auto& ch : commit.changes()) {
      c->changes.push_back({ch.key(), ch.value(), ch.deleted()});
    }
  }
  // Appends `commit` to *list: as a new Commit, or to the last one when it
  // continues it (a commit split with `more`).
  static void AppendCommit(const v1::WatchCommit& commit,
                           std::vector<Commit>* list) {
    if (list->empty() || list->back().ts != commit.commit_ts()) {
      list->push_back({commit.commit_ts(), {}});
    }
    AddChanges(commit, &list->back());
  }

  // Reads one response, which must be a whole commit of watch `id`, whose
  // commit_time_unix_ns lies in [stamped_after, stamped_before] if given.
  static Commit ReadCommit(Stream& s, uint64_t id, int64_t stamped_after = 0,
                           int64_t stamped_before = 0) {
    v1::WatchResponse r;
    Commit c;
    do {
      r.Clear();
      EXPECT_TRUE(s.Read(&r));
      EXPECT_EQ(r.watch_id(), id) << r.DebugString();
      EXPECT_TRUE(r.has_commit()) << r.DebugString();
      if (stamped_before != 0) {
        EXPECT_GE(r.commit().commit_time_unix_ns(), stamped_after);
        EXPECT_LE(r.commit().commit_time_unix_ns(), stamped_before);
      }
      c.ts = r.commit().commit_ts();
      AddChanges(r.commit(), &c);
    } while (r.commit().more());
    return c;
  }

  // Reads one response, which must carry whole commits of watch `id`: a
  // `commits` batch (its size in *batch) or one `commit` (*batch = 1).
  static std::vector<Commit> ReadBatch(Stream& s, uint64_t id,
                                       std::size_t* batch) {
    v1::WatchResponse r;
    EXPECT_TRUE(s.Read(&r));
    EXPECT_EQ(r.watch_id(), id) << r.DebugString();
    EXPECT_LE(r.ByteSizeLong(), kResponseCap) << "over the byte cap";
    if (r.has_commits()) {
      EXPECT_GE(r.commits().commits_size(), 2) << "a batch of one";
    }
    std::vector<Commit> out;
    const std::vector<v1::WatchCommit> commits = CommitsOf(r);
    *batch = commits.size();
    for (const v1::WatchCommit& commit : commits) {
      EXPECT_FALSE(commit.more()) << "a split commit in a batch";
      EXPECT_GT(commit.commit_time_unix_ns(), 0) << "not stamped";
      Commit c{commit.commit_ts(), {}};
      AddChanges(commit, &c);
      out.push_back(std::move(c));
    }
    return out;
  }

  // A response's commits: its `commits`, or its one `commit`.
  static std::vector<v1::WatchCommit> CommitsOf(const v1::WatchResponse& r) {
    EXPECT_TRUE(r.has_commit() || r.has_commits()) << r.DebugString();
    if (r.has_commit()) return {r.commit()};
    return {r.commits().commits().begin(), r.commits().commits().end()};
  }

  // The server's ~1 MiB per response plus framing slack.
  static constexpr std::size_t kResponseCap = (1 << 20) + 4096;

  std::unique_ptr<testing::InProcessServer> server_;
  std::unique_ptr<v1::KV::Stub> stub_;
};

TEST_F(WatchServiceTest, OneEventPerCommitWithAllItsChangesInRange) {
  Start();
  grpc::ClientContext context;
  auto s = Open(&context);
  ASSERT_TRUE(s->Write(CreatePrefix(7, "a/")));
  ExpectCreated(*s, 7);
  const int64_t before = absl::GetCurrentTimeNanos();
  auto txn = server_->db().Begin();
  ASSERT_TRUE(txn->Put("a/2", "two").ok());
  ASSERT_TRUE(txn->Put("b/1", "outside").ok());
  ASSERT_TRUE(txn->Delete("a/1").ok());
  ASSERT_TRUE(txn->Commit().ok());
  const uint64_t other = Put("b/2", "outside");
  const uint64_t last = Put("a/3", "three");
  const int64_t after = absl::GetCurrentTimeNanos();
  EXPECT_EQ(ReadCommit(*s, 7, before, after),
            (Commit{txn->commit_ts(), {{"a/1", "", true}, {"a/2", "two"}}}));
  EXPECT_EQ(ReadCommit(*s, 7, before, after),
            (Commit{last, {{"a/3", "three"}}}));
  EXPECT_GT(last, other);
  s->WritesDone();
  context.TryCancel();
}

// Property: with max_commits_per_response, the commits ready when a write
// completes go out packed, at most that many per response, whole, in
// commit order, each exactly once with exactly its changes in range; a
// progress asked for meanwhile comes after every commit before it; and a
// lone commit is sent at once, not held back to fill a batch.
TEST_F(WatchServiceTest, ReadyCommitsArePackedInOrderWithinTheCountCap) {
  Start();
  std::vector<Commit> want;
  for (int i = 0; i < 23; ++i) {
    auto txn = server_->db().Begin();
    const std::string k = absl::StrCat("a/", i % 7);
    ASSERT_TRUE(txn->Put(k, absl::StrCat("v", i)).ok());
    ASSERT_TRUE(txn->Put(absl::StrCat("b/", i), "outside").ok());
    Commit c{0, {{k, absl::StrCat("v", i)}}};
    if (i % 3 == 0) {
      ASSERT_TRUE(txn->Delete("a/9").ok());
      c.changes.push_back({"a/9", "", true});
    }
    ASSERT_TRUE(txn->Commit().ok());
    c.ts = txn->commit_ts();
    want.push_back(std::move(c));
  }
  Put("b/only", "outside");  // no event
  grpc::ClientContext context;
  auto s = Open(&context);
  v1::WatchRequest create = CreatePrefix(3, "a/", want.front().ts);
  constexpr std::size_t kCap = 4;
  create.mutable_create()->set_max_commits_per_response(kCap);
  ASSERT_TRUE(s->Write(create));
  ExpectCreated(*s, 3);
  v1::WatchRequest progress;
  progress.mutable_progress()->set_watch_id(3);
  ASSERT_TRUE(s->Write(progress));
  std::vector<Commit> got;
  std::size_t responses = 0, largest = 0;
  uint64_t progress_ts = 0;
  while (progress_ts == 0 && responses < 2 * want.size()) {
    v1::WatchResponse r;
    ASSERT_TRUE(s->Read(&r));
    ASSERT_EQ(r.watch_id(), 3u) << r.DebugString();
    if (r.has_progress()) {
      progress_ts = r.progress().ts();
      break;
    }
    ++responses;
    const std::vector<v1::WatchCommit> commits = CommitsOf(r);
    ASSERT_LE(commits.size(), kCap);
    largest = std::max(largest, commits.size());
    for (const v1::WatchCommit& commit : commits) {
      ASSERT_FALSE(commit.more());
      Commit c{commit.commit_ts(), {}};
      AddChanges(commit, &c);
      got.push_back(std::move(c));
    }
  }
  // The progress was asked for after the commits: it follows all of them.
  EXPECT_EQ(got, want);
  EXPECT_GE(progress_ts, want.back().ts);
  EXPECT_EQ(largest, kCap) << "ready commits were not packed";
  EXPECT_EQ(responses, (want.size() + kCap - 1) / kCap);
  // A lone commit goes out by itself (the read would wait for a batch to
  // fill until the stream's deadline otherwise).
  const uint64_t late = Put("a/late", "x");
  std::size_t batch = 0;
  EXPECT_EQ(ReadBatch(*s, 3, &batch),
            (std::vector<Commit>{{late, {{"a/late", "x"}}}}));
  EXPECT_EQ(batch, 1u);
  context.TryCancel();
}

// Property: a batch stays within the ~1 MiB response cap (what is left
// goes in the next one), and a commit over the cap still goes alone,
// split with `more`, between batches and in order.
TEST_F(WatchServiceTest, BatchesStayWithinTheByteCap) {
  Start();
  const std::string value(300 << 10, 'v');  // 3 fit in 1 MiB, 4 do not
  std::vector<Commit> want;
  for (int i = 0; i < 7; ++i) {
    const std::string k = absl::StrCat("m/", i);
    want.push_back({Put(k, value), {{k, value}}});
  }
  want.push_back(PutKeys("m/big", 5, value));  // 1.5 MiB: split
  for (int i = 7; i < 9; ++i) {
    const std::string k = absl::StrCat("m/", i);
    want.push_back({Put(k, value), {{k, value}}});
  }
  grpc::ClientContext context;
  auto s = Open(&context);
  v1::WatchRequest create = CreatePrefix(1, "m/", want.front().ts);
  create.mutable_create()->set_max_commits_per_response(100);
  ASSERT_TRUE(s->Write(create));
  ExpectCreated(*s, 1);
  std::vector<Commit> got;
  std::vector<std::size_t> batches;
  for (int i = 0; i < 3; ++i) {  // 3 + 3 + 1 single-key commits
    std::size_t batch = 0;
    for (Commit& c : ReadBatch(*s, 1, &batch)) got.push_back(std::move(c));
    batches.push_back(batch);
  }
  got.push_back(ReadCommit(*s, 1));  // the big one, split
  std::size_t batch = 0;
  for (Commit& c : ReadBatch(*s, 1, &batch)) got.push_back(std::move(c));
  batches.push_back(batch);
  EXPECT_EQ(got, want);
  EXPECT_EQ(batches, (std::vector<std::size_t>{3, 3, 1, 2}));
  context.TryCancel();
}

// Property: responses of share_responses watches travel in `batch`
// responses within the ~1 MiB cap (300 KiB commits: at most 3 in one), one
// per watch, never a split commit (the 1.5 MiB one goes alone, split with
// `more`) and never a watch that does not share; every watch still gets
// every commit whole, once, in order.
TEST_F(WatchServiceTest, SharedResponsesStayWithinTheByteCap) {
  Start();
  const std::string value(300 << 10, 'v');
  std::vector<Commit> want;
  for (int i = 0; i < 6; ++i) {
    const std::string k = absl::StrCat("m/", i);
    want.push_back({Put(k, value), {{k, value}}});
    if (i == 2) want.push_back(PutKeys("m/big", 5, value));  // split
  }
  constexpr uint64_t kWatches = 5;  // 1..4 share, 5 does not
  grpc::ClientContext context;
  auto s = Open(&context);
  for (uint64_t id = 1; id <= kWatches; ++id) {
    v1::WatchRequest create = CreatePrefix(id, "m/", want.front().ts);
    create.mutable_create()->set_share_responses(id != kWatches);
    ASSERT_TRUE(s->Write(create));
  }
  std::map<uint64_t, std::vector<Commit>> got;
  std::size_t largest = 0;
  auto take = [&](const v1::WatchResponse& r) {
    ASSERT_TRUE(r.has_commit()) << r.DebugString();
    AppendCommit(r.commit(), &got[r.watch_id()]);
  };
  auto done = [&] {
    for (uint64_t id = 1; id <= kWatches; ++id) {
      if (got[id].size() < want.size() || got[id].back().ts != want.back().ts)
        return false;
    }
    return true;
  };
  std::size_t created = 0;
  for (int reads = 0; reads < 200 && (created < kWatches || !done()); ++reads) {
    v1::WatchResponse r;
    ASSERT_TRUE(s->Read(&r));
    ASSERT_LE(r.ByteSizeLong(), kResponseCap) << "over the byte cap";
    if (r.has_created()) {
      ++created;
    } else if (r.has_batch()) {
      ASSERT_GE(r.batch().responses_size(), 2) << "a batch of one";
      largest = std::max<std::size_t>(largest, r.batch().responses_size());
      std::set<uint64_t> ids;
      for (const v1::WatchResponse& inner : r.batch().responses()) {
        ASSERT_NE(inner.watch_id(), kWatches) << "it does not share";
        ASSERT_TRUE(ids.insert(inner.watch_id()).second) << "twice";
        ASSERT_FALSE(inner.commit().more()) << "a split commit in a batch";
        take(inner);
      }
    } else {
      take(r);
    }
  }
  for (uint64_t id = 1; id <= kWatches; ++id) {
    EXPECT_EQ(got[id], want) << "watch " << id;
  }
  EXPECT_GE(largest, 2u) << "four watches with backlogs never shared";
  EXPECT_LE(largest, 3u);
  context.TryCancel();
}

TEST_F(WatchServiceTest, KeysOnlyRangeAndKeyTargets) {
  Start();
  grpc::ClientContext context;
  auto s = Open(&context);
  v1::WatchRequest range;
  range.mutable_create()->set_watch_id(1);
  range.mutable_create()->mutable_range()->set_start("k2");
  range.mutable_create()->mutable_range()->set_end("k4");
  range.mutable_create()->set_keys_only(true);
  ASSERT_TRUE(s->Write(range));
  ExpectCreated(*s, 1);
  v1::WatchRequest key;
  key.mutable_create()->set_watch_id(2);
  key.mutable_create()->set_key("k5");
  ASSERT_TRUE(s->Write(key));
  ExpectCreated(*s, 2);
  Put("k1", "x");
  const uint64_t t3 = Put("k3", "x");
  Put("k4", "x");
  const uint64_t t5 = Put("k5", "v5");
  // Watch 1's and watch 2's events may interleave; each in order.
  std::map<uint64_t, std::vector<Commit>> got;
  while (got[1].size() + got[2].size() < 2) {
    v1::WatchResponse r;
    ASSERT_TRUE(s->Read(&r));
    ASSERT_TRUE(r.has_commit()) << r.DebugString();
    Commit c{r.commit().commit_ts(), {}};
    AddChanges(r.commit(), &c);
    got[r.watch_id()].push_back(c);
  }
  EXPECT_EQ(got[1], (std::vector<Commit>{{t3, {{"k3", ""}}}}));
  EXPECT_EQ(got[2], (std::vector<Commit>{{t5, {{"k5", "v5"}}}}));
  context.TryCancel();
}

TEST_F(WatchServiceTest, CancelEndsOneWatchAndTheStreamGoesOn) {
  Start();
  grpc::ClientContext context;
  auto s = Open(&context);
  ASSERT_TRUE(s->Write(CreatePrefix(1, "x")));
  ExpectCreated(*s, 1);
  ASSERT_TRUE(s->Write(CreatePrefix(0, "y")));  // the server picks id 2
  ExpectCreated(*s, 2);
  v1::WatchRequest cancel;
  cancel.mutable_cancel()->set_watch_id(1);
  ASSERT_TRUE(s->Write(cancel));
  v1::WatchResponse r;
  ASSERT_TRUE(s->Read(&r));
  EXPECT_EQ(r.watch_id(), 1u);
  EXPECT_EQ(r.ended().code(), static_cast<int>(grpc::StatusCode::CANCELLED));
  Put("x1", "gone");
  const uint64_t t = Put("y1", "here");
  EXPECT_EQ(ReadCommit(*s, 2), (Commit{t, {{"y1", "here"}}}));
  EXPECT_EQ(server_->db().GetStats().watches, 1u);
  context.TryCancel();
}

TEST_F(WatchServiceTest, ProgressOnRequestAndOnInterval) {
  Start();
  grpc::ClientContext context;
  auto s = Open(&context);
  ASSERT_TRUE(s->Write(CreatePrefix(1, "p")));
  ExpectCreated(*s, 1);
  const uint64_t t = Put("q", "outside");
  v1::WatchRequest progress;
  progress.mutable_progress()->set_watch_id(0);
  ASSERT_TRUE(s->Write(progress));
  v1::WatchResponse r;
  ASSERT_TRUE(s->Read(&r));
  ASSERT_TRUE(r.has_progress()) << r.DebugString();
  EXPECT_EQ(r.watch_id(), 1u);
  EXPECT_GE(r.progress().ts(), t);

  v1::WatchRequest timed = CreatePrefix(2, "p");
  timed.mutable_create()->set_progress_interval_ms(5);
  ASSERT_TRUE(s->Write(timed));
  ExpectCreated(*s, 2);
  r.Clear();
  ASSERT_TRUE(s->Read(&r));  // nothing else to say: a progress, unasked
  EXPECT_EQ(r.watch_id(), 2u);
  EXPECT_TRUE(r.has_progress()) << r.DebugString();
  context.TryCancel();
}

// Every bad input ends only the watch it names, with the documented code,
// and creates nothing.
TEST_F(WatchServiceTest, BadInputEndsOnlyThatWatch) {
  Options db;
  db.limits.max_key_bytes = 16;
  db.max_watches = 2;
  Start(db);
  grpc::ClientContext context;
  auto s = Open(&context);
  ASSERT_TRUE(s->Write(CreatePrefix(1, "ok")));
  ExpectCreated(*s, 1);
  const uint64_t visible = Put("zz", "v");
  struct Case {
    std::string name;
    v1::WatchRequest request;
    grpc::StatusCode code;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, grpc::StatusCode code, auto fill) {
    Case c{std::move(name), {}, code};
    fill(c.request);
    cases.push_back(std::move(c));
  };
  using C = grpc::StatusCode;
  add("no target", C::INVALID_ARGUMENT,
      [](auto& r) { r.mutable_create()->set_watch_id(10); });
  add("empty key", C::INVALID_ARGUMENT, [](auto& r) {
    r.mutable_create()->set_watch_id(11);
    r.mutable_create()->set_key("");
  });
  add("end <= start", C::INVALID_ARGUMENT, [](auto& r) {
    r.mutable_create()->set_watch_id(12);
    r.mutable_create()->mutable_range()->set_start("b");
    r.mutable_create()->mutable_range()->set_end("a");
  });
  add("prefix over the key limit", C::INVALID_ARGUMENT, [](auto& r) {
    r.mutable_create()->set_watch_id(13);
    r.mutable_create()->set_prefix(std::string(17, 'p'));
  });
  add("start_ts in the future", C::INVALID_ARGUMENT, [&](auto& r) {
    r.mutable_create()->set_watch_id(14);
    r.mutable_create()->set_prefix("f");
    r.mutable_create()->set_start_ts(visible + 2);
  });
  add("duplicate id", C::INVALID_ARGUMENT,
      [](auto& r) { r = CreatePrefix(1, "dup"); });
  add("cancel of an unknown id", C::NOT_FOUND,
      [](auto& r) { r.mutable_cancel()->set_watch_id(99); });
  add("progress of an unknown id", C::NOT_FOUND,
      [](auto& r) { r.mutable_progress()->set_watch_id(98); });
  add("empty request", C::INVALID_ARGUMENT, [](auto&) {});
  for (const Case& c : cases) {
    ASSERT_TRUE(s->Write(c.request)) << c.name;
    v1::WatchResponse r;
    ASSERT_TRUE(s->Read(&r)) << c.name;
    ASSERT_TRUE(r.has_ended()) << c.name << ": " << r.DebugString();
    EXPECT_EQ(r.ended().code(), static_cast<int>(c.code))
        << c.name << ": " << r.ended().message();
    EXPECT_FALSE(r.ended().message().empty()) << c.name;
  }
  // max_watches = 2: one more is fine, then RESOURCE_EXHAUSTED.
  ASSERT_TRUE(s->Write(CreatePrefix(2, "two")));
  ExpectCreated(*s, 2);
  ASSERT_TRUE(s->Write(CreatePrefix(3, "three")));
  v1::WatchResponse r;
  ASSERT_TRUE(s->Read(&r));
  EXPECT_EQ(r.ended().code(),
            static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED))
      << r.DebugString();
  EXPECT_EQ(server_->db().GetStats().watches, 2u);
  // Watch 1 went on through all of it.
  const uint64_t t = Put("ok1", "still");
  EXPECT_EQ(ReadCommit(*s, 1), (Commit{t, {{"ok1", "still"}}}));
  context.TryCancel();
}

TEST_F(WatchServiceTest, CompactedStartNamesTheOldestAvailable) {
  Options db;
  db.watch_buffer_bytes = 4096;
  Start(db);
  for (int i = 0; i < 200; ++i) Put(absl::StrCat("k", i), std::string(64, 'v'));
  const uint64_t oldest = server_->db().GetStats().watch_oldest_ts;
  ASSERT_GT(oldest, 1u);
  grpc::ClientContext context;
  auto s = Open(&context);
  ASSERT_TRUE(s->Write(CreatePrefix(1, "k", 1)));
  v1::WatchResponse r;
  ASSERT_TRUE(s->Read(&r));
  EXPECT_EQ(r.ended().code(), static_cast<int>(grpc::StatusCode::OUT_OF_RANGE))
      << r.DebugString();
  EXPECT_EQ(r.ended().restart_ts(), oldest);
  // ... and that timestamp works.
  ASSERT_TRUE(s->Write(CreatePrefix(2, "k", oldest)));
  EXPECT_EQ(ExpectCreated(*s, 2), oldest);
  EXPECT_EQ(ReadCommit(*s, 2).ts, oldest);
  context.TryCancel();
}

// A client that stops reading while commits go on: the server keeps only
// the watch's cursor; once the buffer overtakes it the watch ends with
// RESOURCE_EXHAUSTED naming the timestamp after the last commit the client
// got, and everything before arrived exactly once, in order.
class StalledReaderTest : public WatchServiceTest,
                          public ::testing::WithParamInterface<uint32_t> {};

// Property: a client that stops reading gets, once it reads again, the
// events that were in flight, contiguous and exactly once (batched or
// not), then RESOURCE_EXHAUSTED naming the next commit to resume from.
TEST_P(StalledReaderTest, EndsWithResumePoint) {
  Options db;
  db.watch_buffer_bytes = 1 << 16;
  Start(db);
  grpc::ClientContext context;
  auto s = Open(&context);
  v1::WatchRequest create = CreatePrefix(1, "");
  create.mutable_create()->set_max_commits_per_response(GetParam());
  ASSERT_TRUE(s->Write(create));
  const uint64_t start = ExpectCreated(*s, 1);
  // Far more than the buffer and gRPC's flow-control windows hold.
  const std::string value(1000, 'v');
  std::vector<uint64_t> ts;
  for (int i = 0; i < 20000; ++i) ts.push_back(Put(absl::StrCat("k", i), value));
  uint64_t expect = start;
  while (true) {
    v1::WatchResponse r;
    ASSERT_TRUE(s->Read(&r));
    if (r.has_ended()) {
      EXPECT_EQ(r.ended().code(),
                static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED))
          << r.DebugString();
      EXPECT_EQ(r.ended().restart_ts(), expect);
      break;
    }
    const std::vector<v1::WatchCommit> commits = CommitsOf(r);
    ASSERT_LE(commits.size(), std::max<uint32_t>(1, GetParam()));
    for (const v1::WatchCommit& c : commits) {
      EXPECT_EQ(c.commit_ts(), expect);  // contiguous: one key each
      expect = c.commit_ts() + 1;
    }
  }
  EXPECT_LT(expect, ts.back()) << "the watcher never fell behind";
  EXPECT_GE(server_->db().GetStats().watch_slow_cancellations, 1u);
  context.TryCancel();
}

// 0: a client before batches (one `commit` per response); 64: batched.
INSTANTIATE_TEST_SUITE_P(Batching, StalledReaderTest,
                         ::testing::Values(0u, 64u));

// Randomized: transactions over a few prefixes, several watches on one
// stream over overlapping targets; every watch gets exactly the commits
// touching its range, in order, each with exactly its changes in range,
// and a watch from any past commit gets exactly the suffix (resume) —
// one commit per response, or batched up to max_commits commits; with
// responses of no watch, of every watch or of every other watch shared in
// `batch` responses, each of one response per sharing watch and never of
// another's.
enum class Sharing { kNone, kAll, kOdd };
struct RandomParam {
  uint32_t max_commits;
  Sharing sharing;
};
class RandomCommitsTest : public WatchServiceTest,
                          public ::testing::WithParamInterface<RandomParam> {
 protected:
  static bool Shares(uint64_t id) {
    return GetParam().sharing == Sharing::kAll ||
           (GetParam().sharing == Sharing::kOdd && id % 2 == 1);
  }
};

TEST_P(RandomCommitsTest, ReachEveryMatchingWatchOnce) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937_64 rng(seed);
  Start();
  struct Target {
    uint64_t id;
    std::string start, end;  // [start, end)
    v1::WatchRequest request;
  };
  std::vector<Target> targets;
  auto add = [&](std::string start, std::string end, auto fill) {
    Target t{targets.size() + 1, std::move(start), std::move(end), {}};
    t.request.mutable_create()->set_watch_id(t.id);
    t.request.mutable_create()->set_max_commits_per_response(
        GetParam().max_commits);
    t.request.mutable_create()->set_share_responses(Shares(t.id));
    fill(t.request.mutable_create());
    targets.push_back(std::move(t));
  };
  add("", "", [](auto* c) { c->set_prefix(""); });
  add("a", "b", [](auto* c) { c->set_prefix("a"); });
  add("ab", "ac", [](auto* c) { c->set_prefix("ab"); });
  add("a5", "b5", [](auto* c) {
    c->mutable_range()->set_start("a5");
    c->mutable_range()->set_end("b5");
  });
  add("b3", "b3\0", [](auto* c) { c->set_key("b3"); });
  targets.back().end = std::string("b3\0", 3);

  std::map<uint64_t, uint64_t> created;  // watch id -> its start_ts
  grpc::ClientContext context;
  auto s = Open(&context);
  for (const Target& t : targets) {
    ASSERT_TRUE(s->Write(t.request));
    created[t.id] = ExpectCreated(*s, t.id);
  }
  std::vector<std::string> keys;
  for (const char* p : {"a", "ab", "b"}) {
    for (int i = 0; i < 8; ++i) keys.push_back(absl::StrCat(p, i));
  }
  std::vector<Commit> commits;
  for (int i = 0; i < 300; ++i) {
    auto txn = server_->db().Begin();
    std::map<std::string, Change> changes;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int j = 0; j < n; ++j) {
      const std::string& key = keys[rng() % keys.size()];
      if (rng() % 4 == 0) {
        ASSERT_TRUE(txn->Delete(key).ok());
        changes[key] = {key, "", true};
      } else {
        const std::string value = absl::StrCat("v", i, ".", j);
        ASSERT_TRUE(txn->Put(key, value).ok());
        changes[key] = {key, value, false};
      }
    }
    ASSERT_TRUE(txn->Commit().ok());
    Commit c{txn->commit_ts(), {}};
    for (auto& [k, ch] : changes) c.changes.push_back(ch);
    commits.push_back(std::move(c));
  }
  auto expected = [&](const Target& t, uint64_t from) {
    std::vector<Commit> out;
    for (const Commit& c : commits) {
      if (c.ts < from) continue;
      Commit in{c.ts, {}};
      for (const Change& ch : c.changes) {
        if (ch.key >= t.start && (t.end.empty() || ch.key < t.end)) {
          in.changes.push_back(ch);
        }
      }
      if (!in.changes.empty()) out.push_back(std::move(in));
    }
    return out;
  };
  std::size_t batches = 0;  // responses with several commits
  std::size_t shared = 0;   // `batch` responses
  auto read_all = [&](Stream& stream, std::map<uint64_t, std::vector<Commit>>*
                                          got,
                      const std::map<uint64_t, std::size_t>& want) {
    auto done = [&] {
      for (auto& [id, n] : want) {
        if ((*got)[id].size() < n || created.count(id) == 0) return false;
      }
      return true;
    };
    auto take = [&](const v1::WatchResponse& r) {
      const std::vector<v1::WatchCommit> commits = CommitsOf(r);
      ASSERT_LE(commits.size(), std::max<uint32_t>(1, GetParam().max_commits));
      if (commits.size() > 1) ++batches;
      for (const v1::WatchCommit& commit : commits) {
        AppendCommit(commit, &(*got)[r.watch_id()]);
      }
    };
    while (!done()) {
      v1::WatchResponse r;
      ASSERT_TRUE(stream.Read(&r));
      if (r.has_created()) {
        created[r.watch_id()] = r.created().start_ts();
        continue;
      }
      if (!r.has_batch()) {
        take(r);
        continue;
      }
      ++shared;
      ASSERT_EQ(r.watch_id(), 0u) << r.DebugString();
      ASSERT_GE(r.batch().responses_size(), 2) << "a batch of one";
      ASSERT_LE(r.ByteSizeLong(), kResponseCap);
      std::set<uint64_t> in_batch;
      for (const v1::WatchResponse& inner : r.batch().responses()) {
        ASSERT_TRUE(Shares(inner.watch_id())) << inner.watch_id();
        ASSERT_TRUE(in_batch.insert(inner.watch_id()).second)
            << "watch " << inner.watch_id() << " twice in one batch";
        ASSERT_FALSE(inner.has_batch());
        ASSERT_FALSE(inner.has_commit() && inner.commit().more())
            << "a split commit in a batch";
        take(inner);
      }
    }
  };
  std::map<uint64_t, std::vector<Commit>> got;
  std::map<uint64_t, std::size_t> want;
  for (const Target& t : targets) want[t.id] = expected(t, 0).size();
  read_all(*s, &got, want);
  for (const Target& t : targets) {
    EXPECT_EQ(got[t.id], expected(t, 0)) << "watch " << t.id;
  }
  // Resume from random points, several watches on a second stream: each
  // gets exactly the suffix.
  grpc::ClientContext resume_context;
  auto r = Open(&resume_context);
  std::map<uint64_t, std::size_t> resume_want;
  std::map<uint64_t, std::pair<const Target*, uint64_t>> resumed;
  for (int i = 0; i < 20; ++i) {
    const Target& t = targets[rng() % targets.size()];
    const uint64_t from = commits[rng() % commits.size()].ts;
    v1::WatchRequest req = t.request;
    const uint64_t id = 100 + i;
    req.mutable_create()->set_watch_id(id);
    req.mutable_create()->set_start_ts(from);
    req.mutable_create()->set_share_responses(Shares(id));
    ASSERT_TRUE(r->Write(req));  // events may follow `created` at once
    resume_want[id] = expected(t, from).size();
    resumed[id] = {&t, from};
  }
  std::map<uint64_t, std::vector<Commit>> resumed_got;
  read_all(*r, &resumed_got, resume_want);
  for (auto& [id, tf] : resumed) {
    EXPECT_EQ(resumed_got[id], expected(*tf.first, tf.second))
        << "watch " << id << " from " << tf.second;
    EXPECT_EQ(created[id], tf.second);
  }
  // The resumed watches start with whole suffixes buffered: batched, and
  // shared when two or more of them share.
  if (GetParam().max_commits > 1) {
    EXPECT_GT(batches, 0u);
  }
  if (GetParam().sharing != Sharing::kNone) {
    EXPECT_GT(shared, 0u);
  }
  context.TryCancel();
  resume_context.TryCancel();
}

INSTANTIATE_TEST_SUITE_P(Batching, RandomCommitsTest,
                         ::testing::Values(RandomParam{0, Sharing::kNone},
                                           RandomParam{5, Sharing::kNone},
                                           RandomParam{0, Sharing::kAll},
                                           RandomParam{5, Sharing::kAll},
                                           RandomParam{5, Sharing::kOdd}));

TEST_F(WatchServiceTest, ShutdownEndsTheStreamUnavailable) {
  Start();
  grpc::ClientContext context;
  auto s = Open(&context);
  ASSERT_TRUE(s->Write(CreatePrefix(1, "")));
  ExpectCreated(*s, 1);
  server_->service().watch_streams().EndAll(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
  v1::WatchResponse r;
  while (s->Read(&r)) {
  }
  const grpc::Status status = s->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->db().GetStats().watches, 0u);
}

// A client that half-closes and then cancels, with its watch open and no
// commit to send, frees the watch at once: nothing waits for a write to
// fail first. Bound: 10 s.
TEST_F(WatchServiceTest, HalfCloseThenCancelFreesTheWatchWithoutAnEvent) {
  Start();
  grpc::ClientContext context;
  auto s = Open(&context);
  ASSERT_TRUE(s->Write(CreatePrefix(1, "")));
  ExpectCreated(*s, 1);
  ASSERT_EQ(server_->db().GetStats().watches, 1u);
  ASSERT_TRUE(s->WritesDone());
  context.TryCancel();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (server_->db().GetStats().watches != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(server_->db().GetStats().watches, 0u);
  EXPECT_EQ(s->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(WatchServiceTest, HalfCloseWithNoWatchEndsOk) {
  Start();
  grpc::ClientContext context;
  auto s = Open(&context);
  ASSERT_TRUE(s->Write(CreatePrefix(1, "")));
  ExpectCreated(*s, 1);
  v1::WatchRequest cancel;
  cancel.mutable_cancel()->set_watch_id(1);
  ASSERT_TRUE(s->Write(cancel));
  ASSERT_TRUE(s->WritesDone());
  v1::WatchResponse r;
  ASSERT_TRUE(s->Read(&r));
  EXPECT_TRUE(r.has_ended());
  EXPECT_FALSE(s->Read(&r));
  EXPECT_TRUE(s->Finish().ok());
}

}  // namespace
}  // namespace mvkv::server
