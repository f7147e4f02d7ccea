// reclaim/node.h — the header every reclaimable object carries, the deleter
// type, and the counters every scheme reports.
//
// A `Node` is the base class (public, first base, so that a `T*` and its
// `Node*` have the same address) of every object retired through a reclaim
// domain. It holds four words that belong to the scheme that retires the
// object; user code never reads or writes them. `sizeof(Node) == 32`.
//
// Thread safety: a Node's words are touched only by the reclamation scheme,
// through atomics, under the scheme's own protocol. Copying or assigning a
// derived object never copies the header (a copy is a new, unretired object).
#ifndef MVKV_RECLAIM_NODE_H_
#define MVKV_RECLAIM_NODE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mvkv::reclaim {

namespace reclaim_internal {
class NodeAccess;
}  // namespace reclaim_internal

struct Node {
  Node() noexcept = default;
  // A copy is a fresh object: it gets a fresh (unretired) header.
  Node(const Node&) noexcept {}
  Node& operator=(const Node&) noexcept { return *this; }
  ~Node() = default;

 private:
  friend class reclaim_internal::NodeAccess;
  // Meaning depends on the scheme; see internal/node_access.h.
  std::atomic<std::uintptr_t> word_[4] = {};
};
static_assert(sizeof(Node) == 4 * sizeof(void*), "Node must stay 4 words");

// Frees `n` (the object it heads) and returns how many bytes it released, or
// 0 if the caller does not track bytes. Called exactly once per retired
// object, on an arbitrary thread, never while any guard may still use it.
using Deleter = std::size_t (*)(Node* n) noexcept;

// Totals since the domain was created. Readable at any time from any thread;
// reading sums per-thread counters (no shared read-modify-write on the hot
// path), so a read taken during concurrent activity is a consistent-enough
// snapshot, not an atomic one: `unreclaimed` is clamped at 0.
struct Counters {
  std::uint64_t retired = 0;            // objects passed to Retire, ever
  std::uint64_t reclaimed = 0;          // objects whose deleter has run, ever
  std::uint64_t unreclaimed = 0;        // retired - reclaimed, now
  // Largest `unreclaimed` observed. Sampled (not exact): by each batch
  // hand-over (Crystalline-W) or epoch-advance attempt (EBR), and by every
  // GetCounters() call. A short spike between samples can be missed.
  std::uint64_t unreclaimed_peak = 0;
  std::uint64_t retired_bytes = 0;      // sum of the `bytes` given to Retire
  std::uint64_t reclaimed_bytes = 0;    // sum of the deleters' return values
  std::uint64_t unreclaimed_bytes = 0;  // retired_bytes - reclaimed_bytes
  // Crystalline-W only (0 for EBR): protected loads that took the slow path.
  std::uint64_t slow_protects = 0;
};

}  // namespace mvkv::reclaim

#endif  // MVKV_RECLAIM_NODE_H_
