// The change buffer: the key changes of the newest commits, in commit order,
// in one fixed ring of words that every watch reads and the commit
// pipeline's complete step appends to.
//
// Why a seqlock ring and not reclaim/: a watch holds a cursor for as long
// as it lives, not for one operation, so a reclaim guard cannot cover it;
// segments retired through reclaim/ would also add the reclaim backlog (a
// reader stalled inside a guard pins what it saw) on top of the buffer's
// bound. Here the bound is exact: the ring is allocated once and appending
// never allocates, never frees and never waits; the appender overwrites the
// oldest records and a reader that was overwritten finds out by validating
// after every copy (a seqlock whose "sequence" is the appender's reserved
// end), and then its watch ends with ResourceExhausted. Every ring word is
// accessed atomically (relaxed std::atomic_ref), so a reader racing with
// the appender reads stale or new words, never a torn word, and no access
// is a data race; what it copied is used only after validation.
//
// Positions are logical word offsets that only grow (2^64 words never wrap);
// the word at logical position p lives at words_[p % capacity_words_].
// Record layout (each field one 64-bit word unless noted):
//   header   length in words (whole record) | commit_ts | changes (32) and
//            flags (32) | the append's wall clock (ns since the Unix epoch)
//   change   key bytes (32) and tombstone bit (bit 32) | value bytes |
//            key, zero-padded to words | value, zero-padded (absent when
//            the record has kValuesOmitted)
//   footer   length in words (so Seek can walk backwards from the tail)
// A commit whose record would not fit in the ring is stored without its
// values (kValuesOmitted) if that fits, else as a header and footer alone
// (kOverflow): watches that need what is missing end with "compacted".
//
// Thread safety: one appender at a time (Append, Reset: the engine's complete
// step, which runs in the writer role or on the staged pipeline's complete
// thread, one commit after another); any number of readers (Seek, Decode,
// the accessors, appended()) concurrently with it and each other.
//
// Invariants:
//  1. reserve_ >= tail_ >= oldest_ >= floor_, all only grow (a Reset moves
//     them all past everything written). Records tile [oldest_, tail_) and
//     [floor_, tail_) was written after the last Reset.
//  2. Before the appender stores any word of [a, b), reserve_ >= b: a
//     reader that copied a word of [p, ...) and then sees reserve_ <=
//     p + capacity_words_ (Intact) copied words no append had touched since
//     it was complete. The write of [a, b) touches the words of logical
//     positions [a - capacity, b - capacity).
//  3. begin_ts_ is stored before the reserve_ store of the append that
//     starts overwriting a record, and is then 1 + that record's commit_ts:
//     a reader that sees reserve_ past a record sees begin_ts_ past that
//     record's commit (Seek's frontier argument).
//  4. tail_ is stored after every word of the records before it; covered_ts_
//     after tail_: every record with commit_ts <= covered_ts_ (as loaded)
//     lies before tail_ (as loaded after it).
//  5. commit_ts strictly increases along the records.
//
// Memory-order pairs:
//   (A1) reserve_ release store, then (A2) release fence, then the relaxed
//        word stores: pair with (R1) the reader's acquire fence after its
//        relaxed word loads and (R2) its acquire load of reserve_ — if a
//        word it loaded was written by an append, that append's reserve_
//        store is visible at (R2) (fence-fence synchronization). Also
//        (A1) -> (R2) carries begin_ts_ (invariant 3).
//   (A3) tail_ release store pairs with (R3) the reader's acquire load:
//        the records before it are complete.
//   (A4) covered_ts_ seq_cst store, then appended()'s WakeIfWaiting: the
//        condition store of EventCount's Dekker pair (event_count.h, (E3)):
//        a waiter that re-checks LoadTail (seq_cst) after BeginWait either
//        sees the new tail or is woken.
//
// Progress: Append is wait-free: O(record words + records evicted), plus
// one futex wake (a system call) only while a thread sleeps on appended():
// the hub lets only its notifier thread do that (WatchHub::Append adds at
// most one more wake-up, of a lone consumer: watch_hub.h). Seek and Decode
// are wait-free (bounded by the buffer's records; they never wait for the
// appender).
#ifndef MVKV_MVCC_INTERNAL_CHANGE_BUFFER_H_
#define MVKV_MVCC_INTERNAL_CHANGE_BUFFER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "mvcc/db.h"
#include "mvcc/durability.h"
#include "mvcc/internal/event_count.h"

namespace mvkv::mvcc_internal {

class ChangeBuffer final {
 public:
  static constexpr std::size_t kMinBytes = 4096;
  // Record flags.
  static constexpr uint32_t kValuesOmitted = 1;  // changes without values
  static constexpr uint32_t kOverflow = 2;       // no changes at all

  // A ring of `bytes` (rounded down to whole words; >= kMinBytes) holding
  // nothing yet: the oldest start_ts is last_ts + 1.
  ChangeBuffer(std::size_t bytes, uint64_t last_ts);
  ~ChangeBuffer();
  ChangeBuffer(const ChangeBuffer&) = delete;
  ChangeBuffer& operator=(const ChangeBuffer&) = delete;

  // ---- The appender (one at a time). ----

  // Appends one commit's changes (key order; an empty span records only
  // that the buffer is current up to commit_ts) and wakes waiters.
  // REQUIRES: commit_ts greater than every earlier one.
  void Append(uint64_t commit_ts, absl::Span<const DurableWrite> changes);
  // Drops every record (readers behind the new tail are overwritten: their
  // next Intact is false); the oldest start_ts becomes last_ts + 1. For a
  // state restored at last_ts, whose history the buffer never saw.
  void Reset(uint64_t last_ts);

  // ---- Readers. ----

  // A consistent pair: every record with commit_ts <= covered_ts lies
  // before pos (invariant 4).
  struct Tail {
    uint64_t covered_ts = 0;
    uint64_t pos = 0;
  };
  Tail LoadTail() const;
  // The oldest start_ts a new reader may ask for.
  uint64_t begin_ts() const {
    return begin_ts_.load(std::memory_order_acquire);
  }

  // The position of the first record with commit_ts >= start_ts (tail if
  // none yet): every such record lies at or after it. OutOfRange
  // "compacted" with the oldest start_ts as payload if start_ts < begin_ts.
  absl::StatusOr<uint64_t> Seek(uint64_t start_ts) const;

  // One record, read by a cursor at `pos`.
  struct Record {
    uint64_t commit_ts = 0;
    uint64_t next = 0;      // position of the record after it
    uint32_t changes = 0;
    uint32_t flags = 0;
    // When Append wrote it: WatchEvent::commit_time.
    int64_t append_unix_ns = 0;
  };
  // Reads the header of the record at `pos`. False if it was overwritten
  // (the reader fell behind). REQUIRES: pos is a record boundary before a
  // tail this reader loaded (LoadTail().pos).
  bool ReadHeader(uint64_t pos, Record* record) const;
  // The changes of `record` (at `pos`) whose keys `range` contains, with
  // values when `values` (and the record has them), written over *out: when
  // some are found *out holds exactly them, its elements' strings reused (a
  // consumer that decodes into the same vector allocates nothing once they
  // are large enough); when none are, *out is left as it was. With out ==
  // nullptr, stops at the first such change. Returns the number found, or -1
  // if the record was overwritten meanwhile (then *out must be discarded).
  // `key` is scratch space.
  int64_t Decode(uint64_t pos, const Record& record, const WatchRange& range,
                 bool values, std::string* key,
                 std::vector<WatchChange>* out) const;

  // Signalled after every append (and Reset). The condition to re-check
  // after BeginWait is LoadTail().
  EventCount& appended() { return appended_; }

  // ---- Accounts. ----
  std::size_t capacity_bytes() const { return capacity_words_ * 8; }
  // Bytes of the records buffered now.
  uint64_t buffered_bytes() const;

 private:
  // Where logical position `pos` lives in words_ (a mask for the usual
  // power-of-two sizes: no division per word).
  uint64_t Index(uint64_t pos) const {
    return mask_ != 0 ? pos & mask_ : pos % capacity_words_;
  }
  uint64_t LoadWord(uint64_t pos) const;
  void StoreWord(uint64_t pos, uint64_t word);
  // Copies `bytes` bytes starting at word `pos` into `dst`.
  void CopyOut(uint64_t pos, std::size_t bytes, char* dst) const;
  // Stores `bytes` bytes of `src` from word `pos` on, zero-padded; returns
  // the position after them.
  uint64_t CopyIn(uint64_t pos, const char* src, std::size_t bytes);
  // (R1)+(R2): true if nothing at or after `pos` that this thread read was
  // overwritten (invariant 2).
  bool Intact(uint64_t pos) const;
  // Drops the records an append ending at `end` overwrites (writer only).
  void Evict(uint64_t end);
  // Writes a record of `words` words at tail_pos_.
  void WriteRecord(uint64_t commit_ts, absl::Span<const DurableWrite> changes,
                   uint64_t words, uint32_t flags);
  void Publish(uint64_t commit_ts);

  const uint64_t capacity_words_;
  const uint64_t mask_;  // capacity_words_ - 1 if a power of two, else 0
  // capacity_words_ words, accessed only through atomic_ref; an anonymous
  // mapping, so pages become resident as commits reach them.
  uint64_t* const words_;

  // The appender's own copies (only it writes them).
  uint64_t tail_pos_ = 0;
  uint64_t oldest_pos_ = 0;

  alignas(64) std::atomic<uint64_t> reserve_{0};
  std::atomic<uint64_t> begin_ts_;
  alignas(64) std::atomic<uint64_t> tail_{0};
  std::atomic<uint64_t> covered_ts_;
  std::atomic<uint64_t> floor_{0};
  std::atomic<uint64_t> oldest_{0};  // for the accounts only (relaxed)
  EventCount appended_;
};

// The status payload that carries a watch error's restart timestamp (see
// mvkv::WatchRestartTs), in decimal.
inline constexpr char kWatchRestartPayload[] = "type.mvkv.dev/watch-restart-ts";

// The OutOfRange "compacted" status whose restart timestamp is `oldest`.
absl::Status CompactedError(std::string_view why, uint64_t oldest);
// Attaches `restart_ts` to `status` (see mvkv::WatchRestartTs).
void SetRestartTs(absl::Status& status, uint64_t restart_ts);

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_CHANGE_BUFFER_H_
