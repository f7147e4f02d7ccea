// Database::Watch: events per commit in commit order with exactly the
// changes in the range, start at a buffered timestamp or now, resume from
// last seen + 1, compacted and fallen-behind errors naming the timestamp to
// restart from, progress events, cancellation, NotifyWhenReady, closing,
// and every bad input.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"

namespace mvkv {
namespace {

using ::testing::HasSubstr;

// A one-shot event (std primitives: TSan cannot see into Debian's Abseil).
class Latch {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  // False if 30 s pass first (a failure, never reached when the code works).
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return done_; });
  }
  bool HasBeenNotified() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// A bound for waits that must succeed (never reached when the code works).
absl::Time Soon() { return absl::Now() + absl::Seconds(30); }

std::unique_ptr<Database> OpenDb(Options options = Options()) {
  auto db = Database::Open(options);
  EXPECT_TRUE(db.ok()) << db.status();
  return std::move(*db);
}

std::unique_ptr<Watch> WatchOrDie(Database& db, const WatchRange& range,
                                  uint64_t start_ts = kWatchFromNow,
                                  const WatchOptions& options = {}) {
  auto w = db.Watch(range, start_ts, options);
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? std::move(*w) : nullptr;
}

// The next kCommit event (skipping progress events).
WatchEvent NextCommit(Watch& w) {
  while (true) {
    absl::StatusOr<WatchEvent> e = w.Next(Soon());
    EXPECT_TRUE(e.ok()) << e.status();
    if (!e.ok()) return {};
    if (e->type == WatchEvent::Type::kCommit) return *e;
  }
}

uint64_t PutTs(Database& db, const std::string& key, const std::string& value) {
  EXPECT_TRUE(db.Put(key, value).ok());
  return db.GetStats().visible_ts;  // single client: this commit
}

std::string Describe(const WatchEvent& e) {
  std::string out = absl::StrCat(e.commit_ts, ":");
  for (const WatchChange& c : e.changes) {
    absl::StrAppend(&out, " ", c.key, c.deleted ? "-" : "=", c.value);
  }
  return out;
}

TEST(WatchTest, EachCommitOnceInOrderWithItsChangesInTheRange) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Prefix("a/"));
  ASSERT_NE(w, nullptr);
  const absl::Time before = absl::Now();
  const uint64_t t1 = PutTs(*db, "a/1", "x");
  const absl::Time answered = absl::Now();
  PutTs(*db, "b/1", "outside");
  auto txn = db->Begin();
  ASSERT_TRUE(txn->Put("a/3", "z").ok());
  ASSERT_TRUE(txn->Put("b/2", "outside").ok());
  ASSERT_TRUE(txn->Delete("a/1").ok());
  ASSERT_TRUE(txn->Put("a/2", "y").ok());
  ASSERT_TRUE(txn->Commit().ok());
  const uint64_t t3 = txn->commit_ts();

  WatchEvent e1 = NextCommit(*w);
  EXPECT_EQ(Describe(e1), absl::StrCat(t1, ": a/1=x"));
  WatchEvent e2 = NextCommit(*w);
  // One event for the transaction, its keys in key order, nothing outside.
  EXPECT_EQ(Describe(e2), absl::StrCat(t3, ": a/1- a/2=y a/3=z"));
  // Stamped when its commit entered the buffer: after the Put began and
  // before it returned; a later commit's stamp is no earlier.
  EXPECT_GE(e1.commit_time, before);
  EXPECT_LE(e1.commit_time, answered);
  EXPECT_GE(e2.commit_time, e1.commit_time);
  EXPECT_TRUE(absl::IsDeadlineExceeded(w->Next(absl::InfinitePast()).status()));
  // The event's commit is visible.
  EXPECT_EQ(*db->Get("a/3"), "z");
}

TEST(WatchTest, KeyIntervalAndPrefixSelectTheirKeys) {
  auto db = OpenDb();
  auto key = WatchOrDie(*db, WatchRange::Key("k"));
  auto interval = WatchOrDie(*db, WatchRange::Interval("k", "m"));
  auto prefix = WatchOrDie(*db, WatchRange::Prefix("k"));
  auto all = WatchOrDie(*db, WatchRange::Prefix(""));
  for (const char* k : {"j", "k", "k\xff", "ka", "l", "m"}) PutTs(*db, k, "v");
  auto keys = [](Watch& w) {
    std::string out;
    while (true) {
      auto e = w.Next(absl::InfinitePast());
      if (!e.ok()) break;
      for (const WatchChange& c : e->changes) absl::StrAppend(&out, c.key, ",");
    }
    return out;
  };
  EXPECT_EQ(keys(*key), "k,");
  EXPECT_EQ(keys(*interval), "k,k\xff,ka,l,");
  EXPECT_EQ(keys(*prefix), "k,k\xff,ka,");
  EXPECT_EQ(keys(*all), "j,k,k\xff,ka,l,m,");
  // A prefix of 0xff bytes runs to the last key.
  auto ff = WatchOrDie(*db, WatchRange::Prefix("\xff\xff"));
  PutTs(*db, "\xff\xfe", "v");
  PutTs(*db, "\xff\xff\x01", "v");
  EXPECT_EQ(keys(*ff), "\xff\xff\x01,");
}

TEST(WatchTest, KeyOnlyWatchGetsNoValues) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"), kWatchFromNow,
                      {.values = false});
  PutTs(*db, "k", "value");
  WatchEvent e = NextCommit(*w);
  ASSERT_EQ(e.changes.size(), 1u);
  EXPECT_EQ(e.changes[0].key, "k");
  EXPECT_EQ(e.changes[0].value, "");
}

TEST(WatchTest, StartsAtABufferedTimestampOrAtTheNextCommit) {
  auto db = OpenDb();
  std::vector<uint64_t> ts;
  for (int i = 0; i < 5; ++i) ts.push_back(PutTs(*db, "k", absl::StrCat(i)));
  auto past = WatchOrDie(*db, WatchRange::Key("k"), ts[2]);
  auto now = WatchOrDie(*db, WatchRange::Key("k"));
  EXPECT_EQ(past->start_ts(), ts[2]);
  EXPECT_EQ(now->start_ts(), ts[4] + 1);
  const uint64_t t5 = PutTs(*db, "k", "5");
  EXPECT_EQ(NextCommit(*past).commit_ts, ts[2]);
  EXPECT_EQ(NextCommit(*past).commit_ts, ts[3]);
  EXPECT_EQ(NextCommit(*past).commit_ts, ts[4]);
  EXPECT_EQ(NextCommit(*past).commit_ts, t5);
  EXPECT_EQ(Describe(NextCommit(*now)), absl::StrCat(t5, ": k=5"));
  // visible_ts + 1 is the latest start allowed, and it is "now".
  auto edge = WatchOrDie(*db, WatchRange::Key("k"), t5 + 1);
  EXPECT_TRUE(
      absl::IsDeadlineExceeded(edge->Next(absl::InfinitePast()).status()));
}

TEST(WatchTest, ResumingFromLastSeenPlusOneGetsEverythingAfter) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Prefix(""));
  std::vector<uint64_t> ts;
  for (int i = 0; i < 6; ++i) ts.push_back(PutTs(*db, absl::StrCat("k", i), "v"));
  const uint64_t last_seen = NextCommit(*w).commit_ts;
  EXPECT_EQ(NextCommit(*w).commit_ts, ts[1]);
  w.reset();
  auto resumed = WatchOrDie(*db, WatchRange::Prefix(""), ts[1] + 1);
  for (int i = 2; i < 6; ++i) EXPECT_EQ(NextCommit(*resumed).commit_ts, ts[i]);
  EXPECT_EQ(last_seen, ts[0]);
}

TEST(WatchTest, ACompactedStartIsOutOfRangeNamingTheOldestAvailable) {
  auto db = OpenDb({.watch_buffer_bytes = 4096});
  for (int i = 0; i < 200; ++i) PutTs(*db, "key", "0123456789");
  const Stats stats = db->GetStats();
  EXPECT_GT(stats.watch_oldest_ts, 1u);
  EXPECT_LE(stats.watch_buffered_bytes, 4096u);
  auto w = db->Watch(WatchRange::Key("key"), 1);
  ASSERT_TRUE(absl::IsOutOfRange(w.status())) << w.status();
  EXPECT_THAT(w.status().message(), HasSubstr("compacted"));
  EXPECT_THAT(w.status().message(),
              HasSubstr(absl::StrCat(stats.watch_oldest_ts)));
  ASSERT_EQ(WatchRestartTs(w.status()), stats.watch_oldest_ts);
  // The oldest available start works and returns that commit first.
  auto oldest = WatchOrDie(*db, WatchRange::Key("key"), stats.watch_oldest_ts);
  EXPECT_EQ(NextCommit(*oldest).commit_ts, stats.watch_oldest_ts);
  EXPECT_FALSE(WatchRestartTs(absl::OutOfRangeError("other")).has_value());
}

TEST(WatchTest, AWatchThatFallsBehindIsCancelledWithTheTimestampToResumeFrom) {
  auto db = OpenDb({.watch_buffer_bytes = 4096});
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  const uint64_t first = PutTs(*db, "k", "v");
  EXPECT_EQ(NextCommit(*w).commit_ts, first);
  // Nobody reads while the buffer wraps several times.
  for (int i = 0; i < 400; ++i) PutTs(*db, "k", "0123456789");
  EXPECT_LE(db->GetStats().watch_buffered_bytes, 4096u);
  absl::StatusOr<WatchEvent> e = w->Next(Soon());
  ASSERT_TRUE(absl::IsResourceExhausted(e.status())) << e.status();
  EXPECT_THAT(e.status().message(),
              HasSubstr(absl::StrCat("resume from start_ts ", first + 1)));
  EXPECT_EQ(WatchRestartTs(e.status()), first + 1);
  // Terminal and counted once.
  EXPECT_TRUE(absl::IsResourceExhausted(w->Next(Soon()).status()));
  EXPECT_EQ(db->GetStats().watch_slow_cancellations, 1u);
}

TEST(WatchTest, ProgressSaysHowFarTheWatchIsCurrent) {
  auto db = OpenDb();
  const uint64_t t1 = PutTs(*db, "other", "v");
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  w->RequestProgress();
  absl::StatusOr<WatchEvent> p = w->Next(Soon());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->type, WatchEvent::Type::kProgress);
  EXPECT_EQ(p->commit_ts, t1);
  EXPECT_TRUE(p->changes.empty());
  EXPECT_EQ(p->commit_time, absl::InfinitePast());
  // Commits outside the range move it too; an event comes before progress.
  const uint64_t t2 = PutTs(*db, "other", "v");
  const uint64_t t3 = PutTs(*db, "k", "v");
  const uint64_t t4 = PutTs(*db, "other", "v");
  w->RequestProgress();
  EXPECT_EQ(NextCommit(*w).commit_ts, t3);
  p = w->Next(Soon());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->type, WatchEvent::Type::kProgress);
  EXPECT_EQ(p->commit_ts, t4);
  EXPECT_GT(t3, t2);
  // Only once per request.
  EXPECT_TRUE(absl::IsDeadlineExceeded(w->Next(absl::InfinitePast()).status()));
}

TEST(WatchTest, PeriodicProgressArrivesWhileIdle) {
  auto db = OpenDb();
  const uint64_t t = PutTs(*db, "other", "v");
  auto w = WatchOrDie(*db, WatchRange::Key("k"), kWatchFromNow,
                      {.progress_interval = absl::Milliseconds(5)});
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<WatchEvent> p = w->Next(Soon());
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->type, WatchEvent::Type::kProgress);
    EXPECT_EQ(p->commit_ts, t);
  }
}

TEST(WatchTest, CancelFromAnotherThreadEndsNextAndIsFinal) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  Latch started;
  std::thread canceller([&] {
    EXPECT_TRUE(started.Wait());
    w->Cancel();
  });
  started.Notify();
  // Blocks until Cancel, or sees it at once (watch_hub_test checks the
  // wake-up of a Next already asleep).
  absl::StatusOr<WatchEvent> e = w->Next(Soon());
  canceller.join();
  EXPECT_TRUE(absl::IsCancelled(e.status())) << e.status();
  PutTs(*db, "k", "v");
  EXPECT_TRUE(absl::IsCancelled(w->Next(Soon()).status()));
}

TEST(WatchTest, NextWaitsForACommitFromAnotherThread) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  std::thread writer([&] { ASSERT_TRUE(db->Put("k", "v").ok()); });
  WatchEvent e = NextCommit(*w);
  writer.join();
  EXPECT_EQ(Describe(e), absl::StrCat(e.commit_ts, ": k=v"));
}

TEST(WatchTest, NotifyWhenReadyCallsBackOffTheCommitThreadOnce) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  std::atomic<int> calls{0};
  Latch ready;
  const std::thread::id me = std::this_thread::get_id();
  std::thread::id ran_on;
  ASSERT_TRUE(w->NotifyWhenReady([&] {
                 ran_on = std::this_thread::get_id();
                 ++calls;
                 ready.Notify();
               }).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(w->Next(absl::InfinitePast()).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(w->NotifyWhenReady([] {})));
  PutTs(*db, "other", "v");  // not in the range: no call
  const uint64_t t = PutTs(*db, "k", "v");
  ASSERT_TRUE(ready.Wait());
  EXPECT_NE(ran_on, me);  // this thread committed (inline): not it
  EXPECT_EQ(NextCommit(*w).commit_ts, t);
  EXPECT_EQ(calls.load(), 1);
}

TEST(WatchTest, NotifyWhenReadyRunsForCancelProgressAndPendingEvents) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  const uint64_t t = PutTs(*db, "k", "v");
  Latch pending;
  ASSERT_TRUE(w->NotifyWhenReady([&] { pending.Notify(); }).ok());
  ASSERT_TRUE(pending.Wait());  // already there
  EXPECT_EQ(NextCommit(*w).commit_ts, t);
  Latch progress;
  ASSERT_TRUE(w->NotifyWhenReady([&] { progress.Notify(); }).ok());
  w->RequestProgress();
  ASSERT_TRUE(progress.Wait());
  EXPECT_EQ(w->Next(Soon())->type, WatchEvent::Type::kProgress);
  Latch cancelled;
  ASSERT_TRUE(w->NotifyWhenReady([&] { cancelled.Notify(); }).ok());
  w->Cancel();
  ASSERT_TRUE(cancelled.Wait());
  EXPECT_TRUE(absl::IsCancelled(w->Next(Soon()).status()));
}

// WaitAny: one thread, many watches; it names exactly those Next would
// answer at once, and Next then does.
TEST(WatchTest, WaitAnyNamesTheWatchesThatHaveSomething) {
  auto db = OpenDb();
  auto a = WatchOrDie(*db, WatchRange::Key("a"));
  auto b = WatchOrDie(*db, WatchRange::Key("b"));
  auto c = WatchOrDie(*db, WatchRange::Prefix("c"));
  Watch* const all[] = {a.get(), b.get(), c.get()};
  std::vector<std::size_t> ready = {7};  // cleared by every call
  absl::Status s = Watch::WaitAny(all, absl::InfinitePast(), &ready);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_TRUE(ready.empty());
  PutTs(*db, "other", "v");  // in no range: still nothing
  s = Watch::WaitAny(all, absl::InfinitePast(), &ready);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  const uint64_t tb = PutTs(*db, "b", "1");
  ASSERT_TRUE(Watch::WaitAny(all, absl::InfinitePast(), &ready).ok());
  EXPECT_EQ(ready, std::vector<std::size_t>({1}));
  absl::StatusOr<WatchEvent> e = b->Next(absl::InfinitePast());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(Describe(*e), absl::StrCat(tb, ": b=1"));
  ASSERT_TRUE(absl::IsDeadlineExceeded(
      Watch::WaitAny(all, absl::InfinitePast(), &ready)));
  PutTs(*db, "c1", "2");
  PutTs(*db, "a", "3");
  ASSERT_TRUE(Watch::WaitAny(all, Soon(), &ready).ok());
  EXPECT_EQ(ready, std::vector<std::size_t>({0, 2}));
  // Looking twice changes nothing; the events are still there.
  ASSERT_TRUE(Watch::WaitAny(all, Soon(), &ready).ok());
  EXPECT_EQ(ready, std::vector<std::size_t>({0, 2}));
  EXPECT_EQ(Describe(NextCommit(*a)), absl::StrCat(tb + 2, ": a=3"));
  EXPECT_EQ(NextCommit(*c).commit_ts, tb + 1);
  b->RequestProgress();
  ASSERT_TRUE(Watch::WaitAny(all, Soon(), &ready).ok());
  EXPECT_EQ(ready, std::vector<std::size_t>({1}));
  e = b->Next(absl::InfinitePast());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type, WatchEvent::Type::kProgress);
  EXPECT_EQ(e->commit_ts, tb + 2);
  c->Cancel();
  ASSERT_TRUE(Watch::WaitAny(all, Soon(), &ready).ok());
  EXPECT_EQ(ready, std::vector<std::size_t>({2}));
  EXPECT_TRUE(absl::IsCancelled(c->Next(absl::InfinitePast()).status()));
}

TEST(WatchTest, WaitAnyWaitsForACommitFromAnotherThread) {
  auto db = OpenDb();
  std::vector<std::unique_ptr<Watch>> owned;
  std::vector<Watch*> watches;
  for (int i = 0; i < 20; ++i) {
    owned.push_back(WatchOrDie(*db, WatchRange::Key(absl::StrCat("k", i))));
    watches.push_back(owned.back().get());
  }
  std::thread writer([&] { ASSERT_TRUE(db->Put("k13", "v").ok()); });
  std::vector<std::size_t> ready;
  absl::Status s = Watch::WaitAny(watches, Soon(), &ready);
  writer.join();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(ready, std::vector<std::size_t>({13}));
  EXPECT_EQ(Describe(NextCommit(*watches[13])),
            absl::StrCat(db->GetStats().visible_ts, ": k13=v"));
}

TEST(WatchTest, WaitAnyEndsAtItsDeadlineOrAtAProgressTimer) {
  auto db = OpenDb();
  auto quiet = WatchOrDie(*db, WatchRange::Key("k"));
  Watch* const one[] = {quiet.get()};
  std::vector<std::size_t> ready;
  const absl::Time deadline = absl::Now() + absl::Milliseconds(20);
  absl::Status s = Watch::WaitAny(one, deadline, &ready);
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_GE(absl::Now(), deadline);
  auto timed = WatchOrDie(*db, WatchRange::Key("j"), kWatchFromNow,
                          {.progress_interval = absl::Milliseconds(5)});
  Watch* const both[] = {quiet.get(), timed.get()};
  ASSERT_TRUE(Watch::WaitAny(both, Soon(), &ready).ok());
  EXPECT_EQ(ready, std::vector<std::size_t>({1}));
  absl::StatusOr<WatchEvent> e = timed->Next(absl::InfinitePast());
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type, WatchEvent::Type::kProgress);
}

TEST(WatchTest, WaitAnyRejectsNoWatchesMixedDatabasesAndArmedWatches) {
  auto db = OpenDb();
  auto other_db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  auto other =
      WatchOrDie(*other_db, WatchRange::Key("k"), kWatchFromNow, {.id = 77});
  std::vector<std::size_t> ready;
  absl::Status s = Watch::WaitAny({}, Soon(), &ready);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  Watch* const mixed[] = {w.get(), other.get()};
  s = Watch::WaitAny(mixed, Soon(), &ready);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("watch 77 is of another database"));
  ASSERT_TRUE(w->NotifyWhenReady([] {}).ok());
  Watch* const armed[] = {w.get()};
  s = Watch::WaitAny(armed, Soon(), &ready);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(s.message(), HasSubstr("callback is armed"));
  // Nothing changed: the armed callback still runs for the next commit.
  EXPECT_TRUE(ready.empty());
}

TEST(WatchTest, WaitAnyReturnsWhenTheDatabaseCloses) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  Watch* const one[] = {w.get()};
  std::thread closer([&] { db.reset(); });
  std::vector<std::size_t> ready;
  absl::Status s = Watch::WaitAny(one, Soon(), &ready);
  closer.join();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(ready, std::vector<std::size_t>({0}));
  EXPECT_TRUE(absl::IsUnavailable(w->Next(absl::InfinitePast()).status()));
}

// NextInto over one reused event gives what Next gives, whatever the event
// held before: fewer changes than last time, no value after a longer one
// (a delete, a key-only watch), and a progress event with no changes.
TEST(WatchTest, NextIntoOverAReusedEventGivesWhatNextGives) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Prefix("k"));
  auto reference = WatchOrDie(*db, WatchRange::Prefix("k"));
  auto keys_only = WatchOrDie(*db, WatchRange::Prefix("k"), kWatchFromNow,
                              {.values = false});
  {
    auto txn = db->Begin(IsolationLevel::kReadCommitted);
    ASSERT_TRUE(txn->Put("k1", std::string(300, 'a')).ok());
    ASSERT_TRUE(txn->Put("k2", "b").ok());
    ASSERT_TRUE(txn->Put("k3", "c").ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  PutTs(*db, "k9", "short");
  ASSERT_TRUE(db->Delete("k1").ok());
  PutTs(*db, "other", "v");  // outside: the event stays as it was
  PutTs(*db, "k2", "");
  WatchEvent event{WatchEvent::Type::kProgress,
                   999,
                   {{"stale", "stale value", true}, {"x", "y", false}}};
  WatchEvent key_event = event;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(w->NextInto(&event, Soon()).ok());
    const WatchEvent expected = NextCommit(*reference);
    EXPECT_EQ(event.type, WatchEvent::Type::kCommit);
    EXPECT_EQ(Describe(event), Describe(expected)) << "event " << i;
    EXPECT_EQ(event.commit_time, expected.commit_time);
    EXPECT_EQ(event.changes.size(), expected.changes.size());
    for (std::size_t c = 0; c < event.changes.size(); ++c) {
      EXPECT_EQ(event.changes[c].deleted, expected.changes[c].deleted);
    }
    ASSERT_TRUE(keys_only->NextInto(&key_event, Soon()).ok());
    EXPECT_EQ(key_event.commit_ts, expected.commit_ts);
    ASSERT_EQ(key_event.changes.size(), expected.changes.size());
    for (std::size_t c = 0; c < key_event.changes.size(); ++c) {
      EXPECT_EQ(key_event.changes[c].key, expected.changes[c].key);
      EXPECT_EQ(key_event.changes[c].value, "");
    }
  }
  w->RequestProgress();
  ASSERT_TRUE(w->NextInto(&event, Soon()).ok());
  EXPECT_EQ(event.type, WatchEvent::Type::kProgress);
  EXPECT_EQ(event.commit_ts, db->GetStats().visible_ts);
  EXPECT_TRUE(event.changes.empty());
  EXPECT_EQ(event.commit_time, absl::InfinitePast());  // not the last commit's
  absl::Status s = w->NextInto(&event, absl::InfinitePast());
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  w->Cancel();
  s = w->NextInto(&event, Soon());
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
}

TEST(WatchTest, DestroyingAnArmedWatchDropsItsCallback) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  auto flag = std::make_shared<int>(0);
  ASSERT_TRUE(w->NotifyWhenReady([flag] { ++*flag; }).ok());
  w.reset();
  PutTs(*db, "k", "v");
  EXPECT_EQ(flag.use_count(), 1);  // dropped, never run
  EXPECT_EQ(*flag, 0);
  EXPECT_EQ(db->GetStats().watches, 0u);
}

TEST(WatchTest, AWatchOutlivesItsDatabase) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  const uint64_t t = PutTs(*db, "k", "v");
  db.reset();
  EXPECT_EQ(NextCommit(*w).commit_ts, t);  // buffered before the close
  absl::StatusOr<WatchEvent> e = w->Next(Soon());
  EXPECT_TRUE(absl::IsUnavailable(e.status())) << e.status();
  Latch inline_call;
  ASSERT_TRUE(w->NotifyWhenReady([&] { inline_call.Notify(); }).ok());
  EXPECT_TRUE(inline_call.HasBeenNotified());
}

TEST(WatchTest, ClosingRunsArmedCallbacks) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  Latch called;
  ASSERT_TRUE(w->NotifyWhenReady([&] { called.Notify(); }).ok());
  db.reset();
  EXPECT_TRUE(called.HasBeenNotified());
  EXPECT_TRUE(absl::IsUnavailable(w->Next(Soon()).status()));
}

TEST(WatchTest, TVarOnlyCommitsAreNotEventsButProgressCoversThem) {
  auto db = OpenDb();
  TVar<int> var = db->NewTVar(0);
  auto w = WatchOrDie(*db, WatchRange::Prefix(""));
  auto txn = db->Begin();
  ASSERT_TRUE(txn->Write(var, 1).ok());
  ASSERT_TRUE(txn->Commit().ok());
  w->RequestProgress();
  absl::StatusOr<WatchEvent> p = w->Next(Soon());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->type, WatchEvent::Type::kProgress);
  EXPECT_EQ(p->commit_ts, txn->commit_ts());
}

TEST(WatchTest, ACommitTooLargeForTheBufferIsCompactedForWatchesThatNeedIt) {
  auto db = OpenDb({.watch_buffer_bytes = 4096});
  auto values = WatchOrDie(*db, WatchRange::Key("big"));
  auto keys_only = WatchOrDie(*db, WatchRange::Key("big"), kWatchFromNow,
                              {.values = false});
  auto other = WatchOrDie(*db, WatchRange::Key("small"));
  const uint64_t t = PutTs(*db, "big", std::string(5000, 'x'));
  const uint64_t t2 = PutTs(*db, "small", "v");
  absl::StatusOr<WatchEvent> e = values->Next(Soon());
  ASSERT_TRUE(absl::IsOutOfRange(e.status())) << e.status();
  EXPECT_THAT(e.status().message(), HasSubstr("compacted"));
  EXPECT_EQ(WatchRestartTs(e.status()), t + 1);
  EXPECT_EQ(Describe(NextCommit(*keys_only)), absl::StrCat(t, ": big="));
  EXPECT_EQ(NextCommit(*other).commit_ts, t2);  // not in its range
  // So many keys that not even they fit: every watch reaching it stops.
  auto txn = db->Begin();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(txn->Put(absl::StrCat("many/", i), "v").ok());
  }
  ASSERT_TRUE(txn->Commit().ok());
  e = other->Next(Soon());
  ASSERT_TRUE(absl::IsOutOfRange(e.status())) << e.status();
  EXPECT_EQ(WatchRestartTs(e.status()), txn->commit_ts() + 1);
}

TEST(WatchTest, BadInputIsRejectedWithAMessageAndCreatesNothing) {
  auto db = OpenDb({.limits = {.max_key_bytes = 8}, .max_watches = 2});
  struct Case {
    WatchRange range;
    uint64_t start_ts;
    WatchOptions options;
    const char* message;
  };
  const uint64_t visible = PutTs(*db, "k", "v");
  const Case cases[] = {
      {WatchRange::Key(""), kWatchFromNow, {}, "key is empty"},
      {WatchRange::Key("123456789"), kWatchFromNow, {}, "over the limit of 8"},
      {WatchRange::Prefix("123456789"), kWatchFromNow, {}, "watch prefix is 9"},
      {WatchRange::Interval("b", "a"), kWatchFromNow, {}, "malformed range"},
      {WatchRange::Interval("a", "a"), kWatchFromNow, {}, "malformed range"},
      {WatchRange::Interval("a", "123456789"), kWatchFromNow, {}, "key limit"},
      {WatchRange::Key("k"), visible + 2, {}, "in the future"},
      {WatchRange::Key("k"),
       kWatchFromNow,
       {.progress_interval = absl::Microseconds(500)},
       "progress_interval"},
  };
  for (const Case& c : cases) {
    auto w = db->Watch(c.range, c.start_ts, c.options);
    EXPECT_TRUE(absl::IsInvalidArgument(w.status())) << c.message;
    EXPECT_THAT(w.status().message(), HasSubstr(c.message));
  }
  EXPECT_EQ(db->GetStats().watches, 0u);
  auto w1 = WatchOrDie(*db, WatchRange::Key("k"));
  auto w2 = WatchOrDie(*db, WatchRange::Key("k"));
  auto w3 = db->Watch(WatchRange::Key("k"));
  EXPECT_TRUE(absl::IsResourceExhausted(w3.status())) << w3.status();
  EXPECT_THAT(w3.status().message(), HasSubstr("max_watches = 2"));
  EXPECT_EQ(db->GetStats().watches, 2u);
  w1.reset();
  EXPECT_TRUE(db->Watch(WatchRange::Key("k")).ok());
}

TEST(WatchTest, BadOptionsAndDisabledWatches) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      Database::Open({.watch_buffer_bytes = 100}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(Database::Open({.max_watches = 0}).status()));
  auto db = OpenDb({.watch_buffer_bytes = 0});
  auto w = db->Watch(WatchRange::Key("k"));
  EXPECT_TRUE(absl::IsFailedPrecondition(w.status())) << w.status();
  EXPECT_THAT(w.status().message(), HasSubstr("watch_buffer_bytes"));
  EXPECT_TRUE(db->Put("k", "v").ok());
}

TEST(WatchTest, StatsCountWatchesAndEvents) {
  auto db = OpenDb();
  auto w = WatchOrDie(*db, WatchRange::Key("k"));
  const uint64_t t = PutTs(*db, "k", "v");
  NextCommit(*w);
  const Stats s = db->GetStats();
  EXPECT_EQ(s.watches, 1u);
  EXPECT_EQ(s.watch_events, 1u);
  EXPECT_GT(s.watch_buffered_bytes, 0u);
  EXPECT_EQ(s.watch_oldest_ts, 1u);
  EXPECT_EQ(s.watch_slow_cancellations, 0u);
  EXPECT_EQ(t, s.visible_ts);
}

}  // namespace
}  // namespace mvkv
