// bench/reclaim/counted.h — a key that counts its live instances in
// per-thread cells (no shared RMW), used to count xenium's and libcds's
// unreclaimed nodes: live keys - keys in the set = retired, not yet freed.
#ifndef MVKV_BENCH_RECLAIM_COUNTED_H_
#define MVKV_BENCH_RECLAIM_COUNTED_H_

#include <atomic>
#include <cstdint>
#include <functional>

namespace mvkv::bench {

// Cells are per (generation, thread): each benchmark run counts its own keys
// (a previous run's leftovers, freed later by a global reclaimer, do not
// disturb it).
struct LiveCells {
  static constexpr int kCells = 256;
  static constexpr int kGenerations = 8;
  struct alignas(64) Cell {
    std::atomic<std::int64_t> n{0};
  };
  static Cell* cells() {
    static Cell* const c = new Cell[kCells * kGenerations];
    return c;
  }
  static std::atomic<std::uint32_t>& Current() {
    static std::atomic<std::uint32_t> g{0};
    return g;
  }
  // Starts a new run's generation; returns it.
  static std::uint32_t NextGeneration() {
    const std::uint32_t g = (Current().load() + 1) % kGenerations;
    for (int i = 0; i < kCells; ++i) cells()[g * kCells + i].n.store(0);
    Current().store(g);
    return g;
  }
  static std::atomic<std::int64_t>& Mine(std::uint32_t gen) {
    static std::atomic<int> next{0};
    thread_local int i = next.fetch_add(1) % kCells;
    return cells()[gen * kCells + i].n;
  }
  static void Add(std::uint32_t gen, std::int64_t d) {
    auto& c = Mine(gen);
    c.store(c.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  static std::int64_t Live(std::uint32_t gen) {
    std::int64_t s = 0;
    for (int i = 0; i < kCells; ++i) s += cells()[gen * kCells + i].n.load(std::memory_order_relaxed);
    return s;
  }
};

template <bool kCount>
struct Key {
  std::uint64_t v = 0;
  std::uint32_t gen = kCount ? LiveCells::Current().load(std::memory_order_relaxed) : 0;
  Key() { Note(1); }
  Key(std::uint64_t x) : v(x) { Note(1); }  // NOLINT: implicit by design
  Key(const Key& o) : v(o.v), gen(o.gen) { Note(1); }
  Key& operator=(const Key& o) {
    v = o.v;
    return *this;
  }
  ~Key() { Note(-1); }
  bool operator<(const Key& o) const { return v < o.v; }
  bool operator==(const Key& o) const { return v == o.v; }
  bool operator>=(const Key& o) const { return v >= o.v; }
  bool operator>(const Key& o) const { return v > o.v; }
  bool operator<=(const Key& o) const { return v <= o.v; }
  bool operator!=(const Key& o) const { return v != o.v; }
  void Note(std::int64_t d) const {
    if constexpr (kCount) LiveCells::Add(gen, d);
  }
};

}  // namespace mvkv::bench

template <bool kCount>
struct std::hash<mvkv::bench::Key<kCount>> {
  std::size_t operator()(const mvkv::bench::Key<kCount>& k) const {
    return std::hash<std::uint64_t>()(k.v);
  }
};

#endif  // MVKV_BENCH_RECLAIM_COUNTED_H_
