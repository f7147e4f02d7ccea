// The Lever mix on mvkv, libcuckoo and oneTBB (see lever.h for the stream).
#include "bench/engine/lever.h"

#include <tbb/concurrent_hash_map.h>

#include <atomic>
#include <libcuckoo/cuckoohash_map.hh>
#include <memory>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/engine/bench_util.h"
#include "mvcc/db.h"

namespace mvkv::bench {
namespace {

// Each target: Load(key, value) before the clock, then Read / Upsert /
// Remove from any thread. Read returns whether the key was found.
class MvkvTarget {
 public:
  void Load(const std::vector<std::string>&, int64_t n, const std::string& value) {
    bench::Load(*db_, n, value);  // the same keys, Key(i)
  }
  bool Read(const std::string& key) {
    thread_local std::string out;  // copied out, as for the maps below
    absl::StatusOr<bool> found = db_->GetIfPresent(key, &out);
    return found.ok() && *found;
  }
  void Upsert(const std::string& key, const std::string& value) { (void)db_->Put(key, value); }
  void Remove(const std::string& key) { (void)db_->Delete(key); }

 private:
  std::unique_ptr<Database> db_ = OpenOrDie();
};

class CuckooTarget {
 public:
  void Load(const std::vector<std::string>& keys, int64_t n, const std::string& value) {
    for (int64_t i = 0; i < n; ++i) map_.insert_or_assign(keys[i], value);
  }
  bool Read(const std::string& key) {
    thread_local std::string out;  // copied out, as mvkv's Get copies
    return map_.find(key, out);
  }
  void Upsert(const std::string& key, const std::string& value) {
    map_.insert_or_assign(key, value);
  }
  void Remove(const std::string& key) { map_.erase(key); }

 private:
  libcuckoo::cuckoohash_map<std::string, std::string> map_;
};

class TbbTarget {
 public:
  void Load(const std::vector<std::string>& keys, int64_t n, const std::string& value) {
    for (int64_t i = 0; i < n; ++i) Upsert(keys[i], value);
  }
  bool Read(const std::string& key) {
    thread_local std::string out;
    Map::const_accessor a;
    if (!map_.find(a, key)) return false;
    out = a->second;
    return true;
  }
  void Upsert(const std::string& key, const std::string& value) {
    Map::accessor a;
    map_.insert(a, key);
    a->second = value;
  }
  void Remove(const std::string& key) { map_.erase(key); }

 private:
  using Map = tbb::concurrent_hash_map<std::string, std::string>;
  Map map_;
};

template <class Target>
LeverRun RunOn(const char* name, const LeverOptions& o, const std::vector<std::string>& keys) {
  Target target;
  target.Load(keys, o.keys / 2, o.value);
  const int64_t per_thread = o.ops / o.threads;
  std::atomic<int64_t> reads{0}, hits{0}, writes{0};
  const double cpu0 = ProcessCpuSeconds();
  const double seconds = Timed(o.threads, [&](int t) {
    std::mt19937_64 rng(t + 7);
    int64_t r = 0, h = 0, w = 0;
    for (int64_t i = 0; i < per_thread; ++i) {
      const uint64_t x = rng();
      const std::string& key = keys[(x >> 8) % o.keys];
      const int dice = static_cast<int>(x % 100);
      if (dice < 94) {
        h += target.Read(key);
        ++r;
      } else if (dice == 96) {
        target.Remove(key);
        ++w;
      } else {
        target.Upsert(key, o.value);  // insert (94-95) or update (97-99)
        ++w;
      }
    }
    reads.fetch_add(r);
    hits.fetch_add(h);
    writes.fetch_add(w);
  });
  const double cpu_seconds = ProcessCpuSeconds() - cpu0;
  return {name,         seconds,     cpu_seconds, per_thread * o.threads, reads.load(),
          hits.load(), writes.load()};
}

}  // namespace

absl::StatusOr<std::vector<LeverRun>> RunLever(const LeverOptions& options,
                                               const std::vector<std::string>& targets) {
  for (const std::string& t : targets) {
    if (t != "mvkv" && t != "libcuckoo" && t != "tbb") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown lever target \"", t, "\" (mvkv, libcuckoo, tbb)"));
    }
  }
  if (options.keys < 2 || options.threads < 1 || options.ops < options.threads) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lever needs keys >= 2, threads >= 1 and ops >= threads; got keys=", options.keys,
        " threads=", options.threads, " ops=", options.ops));
  }
  // Formatted once: the stream measures the targets, not StrFormat.
  std::vector<std::string> keys;
  keys.reserve(options.keys);
  for (int64_t i = 0; i < options.keys; ++i) keys.push_back(Key(i));
  std::vector<LeverRun> runs;
  for (const std::string& t : targets) {
    if (t == "mvkv") runs.push_back(RunOn<MvkvTarget>("mvkv", options, keys));
    if (t == "libcuckoo") runs.push_back(RunOn<CuckooTarget>("libcuckoo", options, keys));
    if (t == "tbb") runs.push_back(RunOn<TbbTarget>("tbb", options, keys));
  }
  return runs;
}

}  // namespace mvkv::bench
