// bench/reclaim/counted.h — a key that counts its live instances in
// per-thread cells (no shared RMW), used to count xenium's and libcds's
// unreclaimed nodes: live keys - keys in the set = retired, not yet freed.
#ifndef MVKV_BENCH_RECLAIM_COUNTED_H_
#define MVKV_BENCH_RECLAIM_COUNTED_H_

#include <atomic>
#include <cstdint>
#include <functional>

namespace mvkv::bench {

struct LiveCells {
  static constexpr int kCells = 256;
  struct alignas(64) Cell {
    std::atomic<std::int64_t> n{0};
  };
  static Cell* cells() {
    static Cell* const c = new Cell[kCells];
    return c;
  }
  static std::atomic<std::int64_t>& Mine() {
    static std::atomic<int> next{0};
    thread_local int i = next.fetch_add(1) % kCells;
    return cells()[i].n;
  }
  static void Add(std::int64_t d) {
    auto& c = Mine();
    c.store(c.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  static std::int64_t Live() {
    std::int64_t s = 0;
    for (int i = 0; i < kCells; ++i) s += cells()[i].n.load(std::memory_order_relaxed);
    return s;
  }
};

template <bool kCount>
struct Key {
  std::uint64_t v = 0;
  Key() { Note(1); }
  Key(std::uint64_t x) : v(x) { Note(1); }  // NOLINT: implicit by design
  Key(const Key& o) : v(o.v) { Note(1); }
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
  static void Note(std::int64_t d) {
    if constexpr (kCount) LiveCells::Add(d);
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
