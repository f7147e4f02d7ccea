// Watches under concurrent writers, randomized (seed logged; replay with
// MVKV_TEST_SEED). Properties:
//  * Exactly once, in order, grouped, to every matching watch and no other:
//    every watch receives, for each committed transaction with a commit
//    timestamp at or after its start that wrote a key in its range, one
//    event with that timestamp and exactly that transaction's writes to the
//    range (values too, unless key-only), in commit order, nothing else —
//    across cancel-and-resume from last seen + 1, and with events pulled by
//    NextInto (over one reused event), announced by NotifyWhenReady, or by
//    Watch::WaitAny on a thread serving several watches (each watch it
//    names must answer Next(InfinitePast()) at once). The expected history
//    is built from what the writers' commits returned (Txn::commit_ts),
//    never from the buffer.
//  * In every pipeline layout (inline commits, staged, with durability).
//  * A stalled watcher (never reads) keeps the buffer within its bound and
//    gets ResourceExhausted naming its start as the timestamp to resume.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mvcc/db.h"
#include "mvcc/testing/gated_durability.h"
#include "mvcc/testing/seed.h"

namespace mvkv {
namespace {

#ifdef MVKV_SANITIZER
constexpr int kTxnsPerWriter = 300;
#else
constexpr int kTxnsPerWriter = 3000;
#endif
constexpr int kWriters = 3;
constexpr int kWatchers = 12;

struct Write {
  bool deleted = false;
  std::string value;
};
// One committed transaction, as its writer saw it.
struct Commit {
  uint64_t ts = 0;
  std::map<std::string, Write> writes;  // key order, one write per key
};

std::string RandomKey(std::minstd_rand& rng) {
  static const char* kPrefixes[] = {"a/", "b/", "c/", "ab"};
  return absl::StrCat(kPrefixes[rng() % 4], "k", rng() % 12);
}

WatchRange RandomRange(std::minstd_rand& rng) {
  switch (rng() % 4) {
    case 0:
      return WatchRange::Key(RandomKey(rng));
    case 1: {
      std::string a = RandomKey(rng), b = RandomKey(rng);
      if (a > b) std::swap(a, b);
      if (a == b) b.clear();  // to the last key
      return WatchRange::Interval(a, b);
    }
    case 2:
      return WatchRange::Prefix(rng() % 2 == 0 ? "a" : "b/");
    default:
      return WatchRange::Prefix("");
  }
}

// The canonical text of one event (or of the expected one).
std::string Text(uint64_t ts, const std::vector<WatchChange>& changes) {
  std::string out = absl::StrCat(ts, ":");
  for (const WatchChange& c : changes) {
    absl::StrAppend(&out, " ", c.key, c.deleted ? " del" : " put=", c.value);
  }
  return out;
}

// Writes random transactions; returns what committed.
std::vector<Commit> RunWriter(Database& db, uint64_t seed) {
  std::minstd_rand rng(static_cast<uint32_t>(seed));
  std::vector<Commit> done;
  for (int i = 0; i < kTxnsPerWriter; ++i) {
    const IsolationLevel level = rng() % 3 == 0 ? IsolationLevel::kSnapshot
                                                : IsolationLevel::kReadCommitted;
    std::unique_ptr<Txn> txn = db.Begin(level);
    Commit c;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      const std::string key = RandomKey(rng);
      Write& w = c.writes[key];
      w.deleted = rng() % 5 == 0;
      w.value = w.deleted ? "" : absl::StrCat(seed, "-", i, "-", k);
      absl::Status s = w.deleted ? txn->Delete(key) : txn->Put(key, w.value);
      EXPECT_TRUE(s.ok()) << s;
    }
    absl::Status s = txn->Commit();
    if (absl::IsAborted(s)) continue;  // a snapshot conflict: not committed
    EXPECT_TRUE(s.ok()) << s;
    c.ts = txn->commit_ts();
    done.push_back(std::move(c));
  }
  return done;
}

// One watcher: a range, a cursor it sometimes drops and resumes from last
// seen + 1, and everything it received.
class Watcher {
 public:
  Watcher(Database& db, uint64_t seed, uint64_t start_ts)
      : db_(db), rng_(static_cast<uint32_t>(seed)), range_(RandomRange(rng_)) {
    options_.values = rng_() % 3 != 0;
    mode_ = static_cast<Mode>(rng_() % 3);
    Open(start_ts);
    start_ts_ = watch_->start_ts();
  }

  // How it pulls events: Next alone, NotifyWhenReady then Next, or a
  // group's WaitAny then Next (RunGroup, on a thread shared with others).
  enum class Mode { kNext, kNotify, kGroup };

  // Runs until it has seen everything up to `final_ts` (once set).
  // REQUIRES: mode() != kGroup.
  void Run(const std::atomic<uint64_t>& final_ts) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (absl::Now() < give_up) {
      const uint64_t target = final_ts.load(std::memory_order_acquire);
      if (CaughtUp(target)) return;
      if (target != 0) watch_->RequestProgress();
      absl::StatusOr<WatchEvent> e = NextEvent(final_ts);
      if (absl::IsDeadlineExceeded(e.status())) continue;
      Take(e);
      if (::testing::Test::HasFatalFailure()) return;
    }
    ADD_FAILURE() << "watcher did not catch up within 60 s";
  }

  // Once the writers are done (target = the last commit), true when every
  // event up to it has been received.
  bool CaughtUp(uint64_t target) const {
    return target != 0 && current_ >= target;
  }

  // Records one event Next returned; sometimes drops the watch and
  // resumes after the last seen.
  void Take(const absl::StatusOr<WatchEvent>& e) {
    ASSERT_TRUE(e.ok()) << e.status();
    if (e->type == WatchEvent::Type::kProgress) {
      current_ = std::max(current_, e->commit_ts);
      return;
    }
    ASSERT_GT(e->commit_ts, last_seen_) << "out of order or repeated";
    last_seen_ = current_ = e->commit_ts;
    got_.push_back(Text(e->commit_ts, e->changes));
    if (rng_() % 40 == 0) {
      watch_.reset();
      Open(last_seen_ + 1);
      ++resumes_;
    }
  }

  Mode mode() const { return mode_; }
  Watch* watch() const { return watch_.get(); }

  std::vector<std::string> Expected(const std::vector<Commit>& history) const {
    std::vector<std::string> out;
    for (const Commit& c : history) {
      if (c.ts < start_ts_) continue;
      std::vector<WatchChange> changes;
      for (const auto& [key, w] : c.writes) {
        if (!range_.Contains(key)) continue;
        changes.push_back({key, options_.values ? w.value : "", w.deleted});
      }
      if (!changes.empty()) out.push_back(Text(c.ts, changes));
    }
    return out;
  }

  const std::vector<std::string>& got() const { return got_; }
  int resumes() const { return resumes_; }
  std::string Describe() const {
    return absl::StrCat(
        "range [", range_.start, ", ", range_.end, ") values=", options_.values,
        " mode=", static_cast<int>(mode_), " start_ts=", start_ts_);
  }

 private:
  void Open(uint64_t start_ts) {
    auto w = db_.Watch(range_, start_ts, options_);
    ASSERT_TRUE(w.ok()) << w.status();
    watch_ = std::move(*w);
  }

  // Next, either directly or after NotifyWhenReady says it will not wait.
  absl::StatusOr<WatchEvent> NextEvent(const std::atomic<uint64_t>& final_ts) {
    if (mode_ == Mode::kNext) {  // NextInto over one reused event
      absl::Status s =
          watch_->NextInto(&scratch_, absl::Now() + absl::Milliseconds(20));
      if (!s.ok()) return s;
      return scratch_;
    }
    std::mutex mu;
    std::condition_variable cv;
    bool ready = false;
    absl::Status armed = watch_->NotifyWhenReady([&] {
      std::lock_guard<std::mutex> lock(mu);
      ready = true;
      cv.notify_all();
    });
    if (!armed.ok()) return armed;
    // The callback uses this frame: wait for it. Once the writers are done
    // a progress request makes the watch ready, so this ends.
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(20),
                        [&] { return ready; })) {
      if (final_ts.load(std::memory_order_acquire) != 0) {
        watch_->RequestProgress();
      }
    }
    return watch_->Next(absl::InfinitePast());
  }

  Database& db_;
  std::minstd_rand rng_;
  const WatchRange range_;
  WatchOptions options_;
  Mode mode_ = Mode::kNext;
  WatchEvent scratch_;  // kNext: NextInto's event, reused
  uint64_t start_ts_ = 0;
  std::unique_ptr<Watch> watch_;
  uint64_t last_seen_ = 0;
  uint64_t current_ = 0;
  int resumes_ = 0;
  std::vector<std::string> got_;
};

// Serves every watcher of `group` (Mode::kGroup) from this one thread:
// Watch::WaitAny over those not yet caught up, then one Next each for the
// watches it named, which must not have to wait.
void RunGroup(const std::vector<Watcher*>& group,
              const std::atomic<uint64_t>& final_ts) {
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  std::vector<Watcher*> live;
  std::vector<Watch*> watches;
  std::vector<std::size_t> ready;
  while (absl::Now() < give_up) {
    const uint64_t target = final_ts.load(std::memory_order_acquire);
    live.clear();
    watches.clear();
    for (Watcher* w : group) {
      if (w->CaughtUp(target)) continue;
      if (target != 0) w->watch()->RequestProgress();
      live.push_back(w);
      watches.push_back(w->watch());  // a resume replaces it: taken anew
    }
    if (live.empty()) return;
    absl::Status s =
        Watch::WaitAny(watches, absl::Now() + absl::Milliseconds(20), &ready);
    if (absl::IsDeadlineExceeded(s)) continue;
    ASSERT_TRUE(s.ok()) << s;
    for (std::size_t i : ready) {
      absl::StatusOr<WatchEvent> e =
          live[i]->watch()->Next(absl::InfinitePast());
      ASSERT_FALSE(absl::IsDeadlineExceeded(e.status()))
          << "WaitAny named watch " << live[i]->watch()->id()
          << ", which had nothing: " << live[i]->Describe();
      live[i]->Take(e);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  ADD_FAILURE() << "a WaitAny group did not catch up within 60 s";
}

enum class Layout { kInline, kStaged, kDurable };

class WatchStressTest : public ::testing::TestWithParam<Layout> {};

TEST_P(WatchStressTest, EveryCommitReachesEveryMatchingWatchOnceInOrder) {
  const uint64_t seed = testing_support::TestSeed();
  testing_support::GatedDurability durability;
  Options options;
  options.staged_pipeline = GetParam() == Layout::kStaged;
  if (GetParam() == Layout::kDurable) options.durability = &durability;
  auto opened = Database::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  Database& db = **opened;

  std::minstd_rand rng(static_cast<uint32_t>(seed));
  std::vector<std::unique_ptr<Watcher>> watchers;
  // Half start from the first commit, half from "now" (before any write).
  for (int i = 0; i < kWatchers; ++i) {
    watchers.push_back(std::make_unique<Watcher>(
        db, rng(), i % 2 == 0 ? 1 : kWatchFromNow));
  }
  std::atomic<uint64_t> final_ts{0};
  std::vector<std::thread> threads;
  std::vector<Watcher*> groups[2];  // two WaitAny threads share kGroup's
  for (auto& w : watchers) {
    if (w->mode() == Watcher::Mode::kGroup) {
      groups[groups[0].size() > groups[1].size()].push_back(w.get());
      continue;
    }
    threads.emplace_back([&final_ts, w = w.get()] { w->Run(final_ts); });
  }
  for (const std::vector<Watcher*>& group : groups) {
    if (group.empty()) continue;
    threads.emplace_back([&final_ts, &group] { RunGroup(group, final_ts); });
  }
  std::vector<std::vector<Commit>> per_writer(kWriters);
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t, s = rng()] { per_writer[t] = RunWriter(db, s); });
  }
  for (auto& t : writers) t.join();
  final_ts.store(db.GetStats().visible_ts, std::memory_order_release);
  for (auto& t : threads) t.join();

  std::vector<Commit> history;
  for (auto& commits : per_writer) {
    for (Commit& c : commits) history.push_back(std::move(c));
  }
  std::sort(history.begin(), history.end(),
            [](const Commit& a, const Commit& b) { return a.ts < b.ts; });
  ASSERT_FALSE(history.empty());
  int resumes = 0;
  for (const auto& w : watchers) {
    EXPECT_EQ(w->got(), w->Expected(history)) << w->Describe();
    resumes += w->resumes();
  }
  std::printf("%zu commits, %d resumes, %zu + %zu watches on WaitAny threads\n",
              history.size(), resumes, groups[0].size(), groups[1].size());
  EXPECT_EQ(db.GetStats().watch_slow_cancellations, 0u);
}

INSTANTIATE_TEST_SUITE_P(Layouts, WatchStressTest,
                         ::testing::Values(Layout::kInline, Layout::kStaged,
                                           Layout::kDurable));

// A watch nobody reads while writers run: the buffer stays within its
// bound the whole time (sampled by a third thread), and the watch ends with
// ResourceExhausted whose restart timestamp is its start (it read nothing).
TEST(WatchStallTest, AStalledWatchCostsNoMemoryAndIsCancelled) {
  constexpr std::size_t kBuffer = 64 << 10;
  auto opened = Database::Open({.watch_buffer_bytes = kBuffer});
  ASSERT_TRUE(opened.ok()) << opened.status();
  Database& db = **opened;
  auto stalled = db.Watch(WatchRange::Prefix(""));
  ASSERT_TRUE(stalled.ok()) << stalled.status();
  const uint64_t start = (*stalled)->start_ts();
  std::atomic<bool> done{false};
  uint64_t max_buffered = 0;
  std::thread sampler([&] {
    while (!done.load(std::memory_order_acquire)) {
      max_buffered = std::max(max_buffered, db.GetStats().watch_buffered_bytes);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      const std::string value(100, 'v');
      for (int i = 0; i < 5000; ++i) {
        ASSERT_TRUE(db.Put(absl::StrCat("w", t, "/", i % 100), value).ok());
      }
    });
  }
  for (auto& w : writers) w.join();
  done.store(true, std::memory_order_release);
  sampler.join();
  EXPECT_GT(max_buffered, kBuffer / 2);  // it did fill
  EXPECT_LE(max_buffered, kBuffer);
  absl::StatusOr<WatchEvent> e = (*stalled)->Next(absl::InfinitePast());
  ASSERT_TRUE(absl::IsResourceExhausted(e.status())) << e.status();
  EXPECT_EQ(WatchRestartTs(e.status()), start);
  EXPECT_EQ(db.GetStats().watch_slow_cancellations, 1u);
  // Resuming there is "compacted": the client must re-read.
  auto resumed = db.Watch(WatchRange::Prefix(""), start);
  EXPECT_TRUE(absl::IsOutOfRange(resumed.status())) << resumed.status();
}

}  // namespace
}  // namespace mvkv
