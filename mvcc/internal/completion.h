// Completion of a commit: the pipeline's last stage wakes the committer.
//
// The request (and its `completed` word) lives on the committer's stack and may
// be gone the instant `completed` is set, so the completer never touches it
// after that store. Sleeping committers park on a word of a static table
// (chosen by the request's address) that outlives everyone.
//
// Thread safety: one SignalComplete per word; any number of
// WaitComplete callers on different words.
#ifndef MVKV_MVCC_INTERNAL_COMPLETION_H_
#define MVKV_MVCC_INTERNAL_COMPLETION_H_

#include <atomic>
#include <cstdint>

namespace mvkv::mvcc_internal {

// One CPU "pause" in a spin loop (a hint to the core; no ordering).
inline void CpuRelax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

// Spins briefly (a commit of a lone client completes in well under a
// microsecond of pipeline work), then yields, then parks. Blocking.
void WaitComplete(const std::atomic<uint32_t>& completed);

// REQUIRES: every result field of the request is written before the call.
// Wait-free apart from the futex wake.
void SignalComplete(std::atomic<uint32_t>& completed);

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_COMPLETION_H_
