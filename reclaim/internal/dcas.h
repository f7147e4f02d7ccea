// reclaim/internal/dcas.h — the one double-width (16-byte) atomic used by
// Crystalline-W: the slow-path result word of a reservation.
//
// Decision (see reclaim.h): a 16-byte word is accessed ONLY through these two
// functions, both `lock cmpxchg16b` (g++ inlines `__sync_val_compare_and_swap`
// on `unsigned __int128` when built with -mcx16, which .bazelrc sets for every
// build). We do not use std::atomic<unsigned __int128> (g++ 12 routes it to
// libatomic, not lock-free), never read a 16-byte word with a plain load (not
// atomic on x86-64), and never touch its halves with 64-bit atomics. A load is
// a CAS of 0 by 0: it writes the cache line, so it stays off the fast path.
// `__sync` builtins are full barriers (sequentially consistent).
#ifndef MVKV_RECLAIM_INTERNAL_DCAS_H_
#define MVKV_RECLAIM_INTERNAL_DCAS_H_

#include <cstdint>

#if !defined(__x86_64__) || !defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)
#error "reclaim/ needs x86-64 cmpxchg16b: build with -mcx16"
#endif

namespace mvkv::reclaim::reclaim_internal {

using U128 = unsigned __int128;

struct alignas(16) Word128 {
  U128 value = 0;  // never read or written except by Cas128 / Load128
};

inline U128 Pack(std::uint64_t lo, std::uint64_t hi) noexcept {
  return (static_cast<U128>(hi) << 64) | lo;
}
inline std::uint64_t Lo(U128 v) noexcept { return static_cast<std::uint64_t>(v); }
inline std::uint64_t Hi(U128 v) noexcept { return static_cast<std::uint64_t>(v >> 64); }

// Sequentially consistent 16-byte CAS. On failure `expected` gets the value seen.
inline bool Cas128(Word128& w, U128& expected, U128 desired) noexcept {
  const U128 seen = __sync_val_compare_and_swap(&w.value, expected, desired);
  const bool ok = seen == expected;
  expected = seen;
  return ok;
}

// Sequentially consistent 16-byte load (a CAS that stores what it finds).
inline U128 Load128(Word128& w) noexcept { return __sync_val_compare_and_swap(&w.value, 0, 0); }

}  // namespace mvkv::reclaim::reclaim_internal

#endif  // MVKV_RECLAIM_INTERNAL_DCAS_H_
