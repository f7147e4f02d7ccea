// watch_bench: watches in process under a YCSB-A-like load (50% Get, 50%
// Put of zipfian-chosen existing keys) on the embedded engine.
//
//   bazel run --config=opt //bench:watch_bench -- --watchers=0,1,10,100
//
// For each repeat, for each watcher count (0 = the same-run baseline; off =
// no change buffer at all):
//   peak   closed-loop clients for --seconds: write ops/s with that many
//          watches open and consuming (what watchers cost the writers),
//          and the events/s they received.
//   paced  clients paced to --rate ops/s in total: commit-to-event latency
//          (from just before Put to Next returning the event; the value
//          carries the clock) p50/p99/p99.9/max and events/s, and the
//          Put's own latency (put_p50/put_p99: the commit's share of it).
//   drain  no clients: --drain_commits single-key commits are buffered
//          first, then one thread drains them through each of the watches
//          in turn (with values, then key-only): what one event costs a
//          consumer, as events/s on one thread.
// Every watch covers every key, so each update is one event per watcher.
// --delivery: thread = one thread per watch blocking in Next; notify = one
// consumer thread for all watches, woken by NotifyWhenReady (the server's
// first design: up to 64 events per wake-up, then re-arm); queued = one
// consumer thread, the server's watch_reactor pattern: a ready watch stays
// in a round-robin queue and is re-armed only once Next finds nothing, so
// the notifier hand-off is paid per idle-to-ready transition, not per
// drain (with --consumers=C, C such threads, watch i on thread i % C);
// any = C consumer threads (--consumers), each waiting for all of its
// watches in Watch::WaitAny (woken by the committing thread itself while it
// is the only one blocked: no notifier hand-off), then draining up to 64
// events from each watch it named;
// stalled = the watches are open and never read (what a stalled
// watcher costs the writers: it should be nothing). A watch that falls
// behind the change buffer is counted (cancelled) and reopened from now.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/ycsb/generators.h"
#include "bench/ycsb/histogram.h"
#include "mvcc/db.h"

ABSL_FLAG(std::string, watchers, "off,0,1,10,100",
          "Comma-separated watcher counts; 0 is the no-watcher baseline, "
          "off the same with the change buffer disabled "
          "(watch_buffer_bytes = 0: what appending costs the writers).");
ABSL_FLAG(std::string, phases, "peak,paced", "Comma-separated: peak, paced, drain.");
ABSL_FLAG(int64_t, drain_commits, 200000, "Commits buffered for the drain phase.");
ABSL_FLAG(std::string, delivery, "thread",
          "thread, notify, queued, any or stalled (see the file comment).");
ABSL_FLAG(int, consumers, 1,
          "notify, queued and any: consumer threads; watch i is served by "
          "thread i % consumers.");
ABSL_FLAG(bool, reuse_events, true,
          "Consumers (and the drain) pull with Watch::NextInto over one "
          "reused WatchEvent per thread; false: Watch::Next, a new event "
          "each time.");
ABSL_FLAG(int, clients, 2, "Client threads.");
ABSL_FLAG(int64_t, records, 100000, "Keys loaded before the runs.");
ABSL_FLAG(int, value_bytes, 100, "Value size (>= 8: the first 8 carry the clock).");
ABSL_FLAG(double, seconds, 5, "Length of each run.");
ABSL_FLAG(double, rate, 20000, "Paced phase: operations per second, all clients.");
ABSL_FLAG(int, repeats, 1, "Interleaved repeats of the whole sweep.");
ABSL_FLAG(int64_t, watch_buffer_bytes, 64 << 20, "Options::watch_buffer_bytes.");
ABSL_FLAG(std::string, json, "", "Write JSON rows here.");

namespace mvkv::bench {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

std::string Key(uint64_t i) { return absl::StrFormat("user%012u", i); }

constexpr int kOff = -1;  // --watchers=off

struct Row {
  std::string phase;
  int watchers = 0;  // kOff: no change buffer
  int repeat = 0;
  double seconds = 0;
  uint64_t ops = 0;      // client operations
  uint64_t updates = 0;  // of which Puts
  uint64_t events = 0;   // kCommit events received, all watches
  uint64_t cancelled = 0;
  ycsb::Histogram latency;
  // The clients' Put, from just before it to its return: the part of
  // `latency` that is the commit itself (paced, peak).
  ycsb::Histogram put_latency;
};

// The next event of `w` into *event, by NextInto over it or (with
// --reuse_events=false) by Next.
absl::Status Pull(Watch& w, absl::Time deadline, WatchEvent* event) {
  if (absl::GetFlag(FLAGS_reuse_events)) return w.NextInto(event, deadline);
  absl::StatusOr<WatchEvent> e = w.Next(deadline);
  if (!e.ok()) return e.status();
  *event = *std::move(e);
  return absl::OkStatus();
}

// The consumers: open every watch, count and time every event, reopen a
// watch that fell behind. Stop() ends them once the clients are done.
class Consumers {
 public:
  Consumers(Database& db, int n, const std::string& delivery, int consumers)
      : db_(db), notify_(delivery == "notify"),
        groups_(std::max(1, std::min(n, consumers))) {
    for (int i = 0; i < n; ++i) watches_.push_back(Open());
    if (delivery == "stalled") return;
    if (delivery == "queued" || delivery == "any" || notify_) {
      const bool any = delivery == "any";
      for (int g = 0; g < static_cast<int>(groups_.size()); ++g) {
        threads_.emplace_back([this, g, any] {
          if (notify_) {
            NotifyLoop(g);
          } else if (any) {
            AnyLoop(g);
          } else {
            QueuedLoop(g);
          }
        });
      }
    } else {
      for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { PullLoop(i); });
    }
  }
  void Stop(Row* row) {
    {
      std::lock_guard<std::mutex> lock(mu_);  // against a reopen
      stop_ = true;
      for (auto& w : watches_) w->Cancel();
    }
    for (auto& t : threads_) t.join();
    row->events = events_.load();
    row->cancelled = cancelled_.load();
    for (const ycsb::Histogram& h : histograms_) row->latency.Merge(h);
  }

 private:
  std::unique_ptr<Watch> Open() {
    auto w = db_.Watch(WatchRange::Prefix("user"));
    if (!w.ok()) {
      std::fprintf(stderr, "watch: %s\n", w.status().ToString().c_str());
      std::exit(1);
    }
    return std::move(*w);
  }

  // Handles one Pull result; false once the watch is done (cancelled).
  bool Handle(int i, const absl::Status& s, const WatchEvent& e,
              ycsb::Histogram& h) {
    if (s.ok()) {
      const int64_t now = NowNs();
      for (const WatchChange& c : e.changes) {
        int64_t sent = 0;
        std::memcpy(&sent, c.value.data(), sizeof(sent));
        h.Record(static_cast<uint64_t>(std::max<int64_t>(0, now - sent)));
      }
      events_.fetch_add(e.type == WatchEvent::Type::kCommit,
                        std::memory_order_relaxed);
      return true;
    }
    if (absl::IsDeadlineExceeded(s)) return true;
    if (!absl::IsResourceExhausted(s)) return false;  // cancelled
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    cancelled_.fetch_add(1, std::memory_order_relaxed);
    // Closed before the new one opens: max_watches is the watcher count.
    // Only consumer i and Stop (under mu_) touch it.
    watches_[i].reset();
    watches_[i] = Open();
    return true;
  }

  void PullLoop(int i) {
    ycsb::Histogram h;
    WatchEvent e;
    while (true) {
      const absl::Status s =
          Pull(*watches_[i], absl::Now() + absl::Milliseconds(100), &e);
      if (!Handle(i, s, e, h)) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    histograms_.push_back(std::move(h));
  }

  // The watches consumer thread `g` serves.
  std::vector<int> Mine(int g) const {
    std::vector<int> mine;
    for (int i = g; i < static_cast<int>(watches_.size());
         i += static_cast<int>(groups_.size())) {
      mine.push_back(i);
    }
    return mine;
  }

  void NotifyLoop(int g) {
    ycsb::Histogram h;
    WatchEvent e;
    Group& group = groups_[g];
    const std::vector<int> mine = Mine(g);
    for (int i : mine) Arm(i);
    for (int live = static_cast<int>(mine.size()); live > 0;) {
      int i;
      {
        std::unique_lock<std::mutex> lock(group.mu);
        group.cv.wait(lock, [&] { return !group.ready.empty(); });
        i = group.ready.front();
        group.ready.pop_front();
      }
      // Drain what is there, then re-arm.
      bool open = true;
      for (int k = 0; k < 64 && open; ++k) {
        const absl::Status s = Pull(*watches_[i], absl::InfinitePast(), &e);
        if (absl::IsDeadlineExceeded(s)) break;
        open = Handle(i, s, e, h);
      }
      if (open) {
        Arm(i);
      } else {
        --live;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    histograms_.push_back(std::move(h));
  }

  void QueuedLoop(int g) {
    ycsb::Histogram h;
    WatchEvent e;
    Group& group = groups_[g];
    const std::vector<int> mine = Mine(g);
    std::deque<int> queued(mine.begin(), mine.end());  // never armed while here
    for (int live = static_cast<int>(queued.size()); live > 0;) {
      {
        std::unique_lock<std::mutex> lock(group.mu);
        if (queued.empty()) {
          group.cv.wait(lock, [&] { return !group.ready.empty(); });
        }
        queued.insert(queued.end(), group.ready.begin(), group.ready.end());
        group.ready.clear();
      }
      const int i = queued.front();
      queued.pop_front();
      bool open = true, idle = false;
      for (int k = 0; k < 64 && open; ++k) {
        const absl::Status s = Pull(*watches_[i], absl::InfinitePast(), &e);
        if (absl::IsDeadlineExceeded(s)) {
          idle = true;
          break;
        }
        open = Handle(i, s, e, h);
      }
      if (!open) {
        --live;
      } else if (idle) {
        Arm(i);
      } else {
        queued.push_back(i);  // round robin, still ready
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    histograms_.push_back(std::move(h));
  }

  void AnyLoop(int g) {
    ycsb::Histogram h;
    WatchEvent e;
    std::vector<int> live = Mine(g);
    std::vector<Watch*> watches;
    std::vector<std::size_t> ready;
    while (!live.empty()) {
      // Taken anew each round: Handle may have reopened one (this thread).
      watches.clear();
      for (int i : live) watches.push_back(watches_[i].get());
      absl::Status s = Watch::WaitAny(
          watches, absl::Now() + absl::Milliseconds(100), &ready);
      if (absl::IsDeadlineExceeded(s)) continue;
      if (!s.ok()) std::abort();
      std::vector<int> ended;
      for (std::size_t k : ready) {
        const int i = live[k];
        bool open = true;
        for (int n = 0; n < 64 && open; ++n) {
          const absl::Status pulled =
              Pull(*watches_[i], absl::InfinitePast(), &e);
          if (absl::IsDeadlineExceeded(pulled)) break;
          open = Handle(i, pulled, e, h);
        }
        if (!open) ended.push_back(i);
      }
      for (int i : ended) live.erase(std::find(live.begin(), live.end(), i));
    }
    std::lock_guard<std::mutex> lock(mu_);
    histograms_.push_back(std::move(h));
  }

  void Arm(int i) {
    Group& group = groups_[i % groups_.size()];
    absl::Status s = watches_[i]->NotifyWhenReady([&group, i] {
      std::lock_guard<std::mutex> lock(group.mu);
      group.ready.push_back(i);
      group.cv.notify_one();
    });
    if (!s.ok()) std::abort();
  }

  // One consumer thread's wake-ups (notify, queued).
  struct Group {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<int> ready;  // guarded by mu: armed watches found ready
  };

  Database& db_;
  const bool notify_;
  std::vector<Group> groups_;
  std::vector<std::unique_ptr<Watch>> watches_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> events_{0}, cancelled_{0};
  std::mutex mu_;
  bool stop_ = false;                        // guarded by mu_
  std::vector<ycsb::Histogram> histograms_;  // guarded by mu_
};

// Runs the clients for --seconds, paced to `rate` ops/s in total (0 = as
// fast as they go), and fills the client side of `row`.
void RunClients(Database& db, double rate, Row* row) {
  const int clients = absl::GetFlag(FLAGS_clients);
  const int64_t records = absl::GetFlag(FLAGS_records);
  const int value_bytes = std::max(8, absl::GetFlag(FLAGS_value_bytes));
  const auto length = std::chrono::duration<double>(absl::GetFlag(FLAGS_seconds));
  std::atomic<uint64_t> ops{0}, updates{0};
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(length);
  std::vector<std::thread> threads;
  std::vector<ycsb::Histogram> puts(clients);
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      ycsb::Random rng(1234 + t);
      ycsb::ScrambledZipfianGenerator keys(0, records - 1);
      std::string value(value_bytes, 'v');
      const double gap_ns = rate > 0 ? 1e9 * clients / rate : 0;
      uint64_t n = 0, u = 0;
      for (auto now = Clock::now(); now < end; now = Clock::now()) {
        if (gap_ns > 0) {
          const auto due = start + std::chrono::nanoseconds(
                                       static_cast<int64_t>(gap_ns * n));
          if (due > now) {
            std::this_thread::sleep_until(due);
            continue;
          }
        }
        const std::string key = Key(keys.Next(rng));
        if (rng.Uniform(2) == 0) {
          (void)db.Get(key);
        } else {
          const int64_t sent = NowNs();
          std::memcpy(value.data(), &sent, sizeof(sent));
          if (!db.Put(key, value).ok()) std::abort();
          puts[t].Record(static_cast<uint64_t>(NowNs() - sent));
          ++u;
        }
        ++n;
      }
      ops.fetch_add(n);
      updates.fetch_add(u);
    });
  }
  for (auto& t : threads) t.join();
  for (const ycsb::Histogram& h : puts) row->put_latency.Merge(h);
  row->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  row->ops = ops.load();
  row->updates = updates.load();
}

// The drain phase: one thread reads every buffered commit through each
// watch in turn; row.ops counts the key-only pass's events.
Row RunDrain(Database& db, int watchers, int repeat) {
  Row row{"drain", watchers, repeat};
  const int64_t commits = absl::GetFlag(FLAGS_drain_commits);
  const uint64_t first = db.GetStats().visible_ts + 1;
  const std::string value(std::max(8, absl::GetFlag(FLAGS_value_bytes)), 'v');
  for (int64_t i = 0; i < commits; ++i) {
    if (!db.Put(Key(i % absl::GetFlag(FLAGS_records)), value).ok()) std::abort();
  }
  auto drain = [&](bool values) {
    const auto start = Clock::now();
    uint64_t events = 0;
    for (int w = 0; w < std::max(1, watchers); ++w) {
      auto watch = db.Watch(WatchRange::Prefix("user"), first, {.values = values});
      if (!watch.ok()) std::abort();
      WatchEvent e;
      while (Pull(**watch, absl::InfinitePast(), &e).ok()) ++events;
    }
    row.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return events;
  };
  row.events = drain(true);
  const double with_values = row.seconds;
  row.ops = drain(false);
  row.latency.Record(static_cast<uint64_t>(1e9 * with_values / row.events));
  row.updates = static_cast<uint64_t>(1e9 * row.seconds / row.ops);
  row.seconds = with_values;
  return row;
}

Row Run(const std::string& phase, int watchers, int repeat) {
  Options options;
  options.watch_buffer_bytes =
      watchers == kOff ? 0 : absl::GetFlag(FLAGS_watch_buffer_bytes);
  options.max_watches = std::max(1, watchers);
  auto db = Database::Open(options);
  if (!db.ok()) {
    std::fprintf(stderr, "open: %s\n", db.status().ToString().c_str());
    std::exit(1);
  }
  const int64_t records = absl::GetFlag(FLAGS_records);
  const std::string value(std::max(8, absl::GetFlag(FLAGS_value_bytes)), 'v');
  for (int64_t base = 0; base < records; base += 1000) {
    auto txn = (*db)->Begin(IsolationLevel::kReadCommitted);
    for (int64_t i = base; i < std::min(records, base + 1000); ++i) {
      (void)txn->Put(Key(i), value);
    }
    if (!txn->Commit().ok()) std::abort();
  }
  if (phase == "drain") return RunDrain(**db, watchers, repeat);
  Row row{phase, watchers, repeat};
  Consumers consumers(**db, std::max(0, watchers),
                      absl::GetFlag(FLAGS_delivery),
                      absl::GetFlag(FLAGS_consumers));
  RunClients(**db, phase == "paced" ? absl::GetFlag(FLAGS_rate) : 0, &row);
  consumers.Stop(&row);
  return row;
}

std::string WatchersText(const Row& r) {
  return r.watchers == kOff ? "off" : absl::StrCat(r.watchers);
}

void Print(const Row& r) {
  if (r.phase == "drain") {
    std::printf("drain watchers=%-3s events/s/thread=%.0f (%.0f ns each), "
                "key-only %.0f ns each\n",
                WatchersText(r).c_str(), r.events / r.seconds,
                static_cast<double>(r.latency.max()),
                static_cast<double>(r.updates));
    std::fflush(stdout);
    return;
  }
  const auto us = [&](double p) { return r.latency.Percentile(p) / 1e3; };
  std::printf(
      "%-5s watchers=%-3s ops/s=%-8.0f updates/s=%-8.0f events/s=%-9.0f "
      "p50=%.1fus p99=%.1fus p99.9=%.1fus max=%.1fus cancelled=%llu "
      "put_p50=%.1fus put_p99=%.1fus\n",
      r.phase.c_str(), WatchersText(r).c_str(), r.ops / r.seconds,
      r.updates / r.seconds, r.events / r.seconds, us(50), us(99), us(99.9),
      r.latency.max() / 1e3, static_cast<unsigned long long>(r.cancelled),
      r.put_latency.Percentile(50) / 1e3, r.put_latency.Percentile(99) / 1e3);
  std::fflush(stdout);
}

std::string Json(const Row& r) {
  return absl::StrFormat(
      "{\"phase\": \"%s\", \"watchers\": \"%s\", \"repeat\": %d, "
      "\"delivery\": \"%s\", \"consumers\": %d, \"reuse_events\": %d, "
      "\"seconds\": %.3f, "
      "\"ops_per_s\": %.0f, "
      "\"updates_per_s\": %.0f, \"events_per_s\": %.0f, \"p50_us\": %.1f, "
      "\"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, "
      "\"cancelled\": %d, \"put_p50_us\": %.1f, \"put_p99_us\": %.1f}",
      r.phase, WatchersText(r), r.repeat, absl::GetFlag(FLAGS_delivery),
      absl::GetFlag(FLAGS_consumers), absl::GetFlag(FLAGS_reuse_events),
      r.seconds, r.ops / r.seconds, r.updates / r.seconds, r.events / r.seconds,
      r.latency.Percentile(50) / 1e3, r.latency.Percentile(99) / 1e3,
      r.latency.Percentile(99.9) / 1e3, r.latency.max() / 1e3, r.cancelled,
      r.put_latency.Percentile(50) / 1e3, r.put_latency.Percentile(99) / 1e3);
}

int Main() {
  std::vector<int> counts;
  for (absl::string_view w : absl::StrSplit(absl::GetFlag(FLAGS_watchers), ',')) {
    int n = kOff;
    if (w != "off" && (!absl::SimpleAtoi(w, &n) || n < 0)) {
      std::fprintf(stderr, "--watchers: bad count \"%s\"\n", std::string(w).c_str());
      return 2;
    }
    counts.push_back(n);
  }
  const std::string delivery = absl::GetFlag(FLAGS_delivery);
  if (delivery != "thread" && delivery != "notify" && delivery != "queued" &&
      delivery != "any" && delivery != "stalled") {
    std::fprintf(
        stderr,
        "--delivery: thread, notify, queued, any or stalled, got \"%s\"\n",
        delivery.c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_consumers) < 1) {
    std::fprintf(stderr, "--consumers: want >= 1, got %d\n",
                 absl::GetFlag(FLAGS_consumers));
    return 2;
  }
  std::vector<std::string> phases =
      absl::StrSplit(absl::GetFlag(FLAGS_phases), ',');
  std::vector<Row> rows;
  for (int r = 0; r < absl::GetFlag(FLAGS_repeats); ++r) {
    for (const std::string& phase : phases) {
      if (phase != "peak" && phase != "paced" && phase != "drain") {
        std::fprintf(stderr, "--phases: peak, paced or drain, got \"%s\"\n",
                     phase.c_str());
        return 2;
      }
      for (int n : counts) {
        rows.push_back(Run(phase, n, r));
        Print(rows.back());
      }
    }
  }
  const std::string path = absl::GetFlag(FLAGS_json);
  if (!path.empty()) {
    std::ofstream out(path);
    out << "[\n";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      out << "  " << Json(rows[i]) << (i + 1 < rows.size() ? ",\n" : "\n");
    }
    out << "]\n";
  }
  return 0;
}

}  // namespace
}  // namespace mvkv::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "watch_bench: commit-to-event latency and events/s of in-process "
      "watches under a YCSB-A-like load, with a no-watcher baseline.");
  absl::ParseCommandLine(argc, argv);
  return mvkv::bench::Main();
}
