#include "mvcc/internal/change_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "mvcc/internal/version.h"

namespace mvkv::mvcc_internal {
namespace {

constexpr uint64_t kHeaderWords = 4;
constexpr uint64_t kFooterWords = 1;
constexpr uint64_t kChangeWords = 2;  // key length and flag, value length
constexpr uint64_t kTombstoneBit = uint64_t{1} << 32;

uint64_t Words(std::size_t bytes) { return (bytes + 7) / 8; }

// The record's words: with values, or (values == false) without.
uint64_t RecordWords(absl::Span<const DurableWrite> changes, bool values) {
  uint64_t words = kHeaderWords + kFooterWords;
  for (const DurableWrite& c : changes) {
    words += kChangeWords + Words(c.key.size());
    if (values) words += Words(c.value.size());
  }
  return words;
}

[[noreturn]] void Corrupt(const char* what, uint64_t pos) {
  std::fprintf(stderr, "mvkv: change buffer corrupt: %s at word %llu\n", what,
               static_cast<unsigned long long>(pos));
  std::abort();
}

}  // namespace

absl::Status CompactedError(std::string_view why, uint64_t oldest) {
  absl::Status s = absl::OutOfRangeError(
      absl::StrCat("compacted: ", AsAbsl(why),
                   "; the oldest start_ts still available is ", oldest));
  SetRestartTs(s, oldest);
  return s;
}

void SetRestartTs(absl::Status& status, uint64_t restart_ts) {
  status.SetPayload(kWatchRestartPayload, absl::Cord(absl::StrCat(restart_ts)));
}

namespace {

// Zeroed, lazily backed memory for the ring; huge pages where the kernel
// grants them (fewer faults while the ring first fills).
uint64_t* MapRing(uint64_t words) {
  void* p = mmap(nullptr, words * 8, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) Corrupt("cannot map the ring", words);
  madvise(p, words * 8, MADV_HUGEPAGE);  // best effort
  return static_cast<uint64_t*>(p);
}

}  // namespace

ChangeBuffer::ChangeBuffer(std::size_t bytes, uint64_t last_ts)
    : capacity_words_(std::max(bytes, kMinBytes) / 8),
      mask_(std::has_single_bit(capacity_words_) ? capacity_words_ - 1 : 0),
      words_(MapRing(capacity_words_)),
      begin_ts_(last_ts + 1),
      covered_ts_(last_ts) {}

ChangeBuffer::~ChangeBuffer() { munmap(words_, capacity_words_ * 8); }

uint64_t ChangeBuffer::LoadWord(uint64_t pos) const {
  return std::atomic_ref<uint64_t>(words_[Index(pos)])
      .load(std::memory_order_relaxed);
}

void ChangeBuffer::StoreWord(uint64_t pos, uint64_t word) {
  std::atomic_ref<uint64_t>(words_[Index(pos)])
      .store(word, std::memory_order_relaxed);
}

void ChangeBuffer::CopyOut(uint64_t pos, std::size_t bytes, char* dst) const {
  uint64_t i = Index(pos);
  while (bytes > 0) {
    const uint64_t w =
        std::atomic_ref<uint64_t>(words_[i]).load(std::memory_order_relaxed);
    const std::size_t n = std::min<std::size_t>(bytes, 8);
    std::memcpy(dst, &w, n);
    dst += n;
    bytes -= n;
    if (++i == capacity_words_) i = 0;
  }
}

uint64_t ChangeBuffer::CopyIn(uint64_t pos, const char* src,
                              std::size_t bytes) {
  uint64_t i = Index(pos);
  while (bytes > 0) {
    uint64_t w = 0;
    const std::size_t n = std::min<std::size_t>(bytes, 8);
    std::memcpy(&w, src, n);
    std::atomic_ref<uint64_t>(words_[i]).store(w, std::memory_order_relaxed);
    src += n;
    bytes -= n;
    ++pos;
    if (++i == capacity_words_) i = 0;
  }
  return pos;
}

bool ChangeBuffer::Intact(uint64_t pos) const {
  // (R1) pairs with (A2): a word loaded before this fence that an append
  // wrote makes that append's reserve_ store visible to (R2).
  std::atomic_thread_fence(std::memory_order_acquire);
  // (R2) acquire also pairs with (A1) for begin_ts_ (invariant 3).
  return reserve_.load(std::memory_order_acquire) <= pos + capacity_words_;
}

// ---- The appender. ----

void ChangeBuffer::Evict(uint64_t end) {
  // A record is overwritten as soon as one of its words is: its start is
  // below end - capacity (invariant 2). Bound: the records in the ring.
  while (oldest_pos_ < tail_pos_ && oldest_pos_ + capacity_words_ < end) {
    const uint64_t len = LoadWord(oldest_pos_);  // this thread's own words
    // Relaxed: published by the reserve_ store (A1), invariant 3.
    begin_ts_.store(LoadWord(oldest_pos_ + 1) + 1, std::memory_order_relaxed);
    oldest_pos_ += len;
  }
  oldest_.store(oldest_pos_, std::memory_order_relaxed);
}

void ChangeBuffer::Append(uint64_t commit_ts,
                          absl::Span<const DurableWrite> changes) {
  if (changes.empty()) {
    Publish(commit_ts);
    return;
  }
  uint32_t flags = 0;
  uint64_t words = RecordWords(changes, /*values=*/true);
  if (words > capacity_words_) {
    flags = kValuesOmitted;
    words = RecordWords(changes, /*values=*/false);
  }
  if (words > capacity_words_) {
    flags = kOverflow;
    words = kHeaderWords + kFooterWords;
  }
  const uint64_t end = tail_pos_ + words;
  Evict(end);
  // (A1) release: begin_ts_ (invariant 3) before any reader sees the
  // reservation; (A2) then no word store may move above it (invariant 2).
  reserve_.store(end, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_release);
  WriteRecord(commit_ts, changes, words, flags);
  tail_pos_ = end;
  // (A3) pairs with (R3) in LoadTail: the record is complete.
  tail_.store(end, std::memory_order_release);
  Publish(commit_ts);
}

void ChangeBuffer::WriteRecord(uint64_t commit_ts,
                               absl::Span<const DurableWrite> changes,
                               uint64_t words, uint32_t flags) {
  uint64_t pos = tail_pos_;
  const uint32_t count =
      flags == kOverflow ? 0 : static_cast<uint32_t>(changes.size());
  StoreWord(pos++, words);
  StoreWord(pos++, commit_ts);
  StoreWord(pos++, count | (uint64_t{flags} << 32));
  StoreWord(pos++, static_cast<uint64_t>(absl::GetCurrentTimeNanos()));
  for (uint32_t i = 0; i < count; ++i) {
    const DurableWrite& c = changes[i];
    StoreWord(pos++, c.key.size() | (c.tombstone ? kTombstoneBit : 0));
    StoreWord(pos++, c.value.size());
    pos = CopyIn(pos, c.key.data(), c.key.size());
    if (flags != kValuesOmitted) pos = CopyIn(pos, c.value.data(), c.value.size());
  }
  StoreWord(pos++, words);
  if (pos != tail_pos_ + words) Corrupt("record size mismatch", tail_pos_);
}

void ChangeBuffer::Publish(uint64_t commit_ts) {
  // (A4): the condition of appended()'s Dekker pair (event_count.h).
  covered_ts_.store(commit_ts, std::memory_order_seq_cst);
  appended_.WakeIfWaiting();
}

void ChangeBuffer::Reset(uint64_t last_ts) {
  // Past everything written: every reader at or before the old tail is
  // overwritten (reserve_ > its pos + capacity), and no reader walks back
  // past floor_.
  const uint64_t end = tail_pos_ + capacity_words_ + 1;
  begin_ts_.store(last_ts + 1, std::memory_order_relaxed);
  reserve_.store(end, std::memory_order_release);  // (A1)
  floor_.store(end, std::memory_order_relaxed);    // published by (A3)
  tail_pos_ = oldest_pos_ = end;
  oldest_.store(end, std::memory_order_relaxed);
  tail_.store(end, std::memory_order_release);  // (A3)
  Publish(last_ts);
}

// ---- Readers. ----

ChangeBuffer::Tail ChangeBuffer::LoadTail() const {
  Tail t;
  // seq_cst: the waiter's condition load after EventCount::BeginWait,
  // paired with (A4); acquire for invariant 4.
  t.covered_ts = covered_ts_.load(std::memory_order_seq_cst);
  // (R3) pairs with (A3).
  t.pos = tail_.load(std::memory_order_acquire);
  return t;
}

absl::StatusOr<uint64_t> ChangeBuffer::Seek(uint64_t start_ts) const {
  auto compacted = [&](uint64_t begin) {
    return CompactedError(
        absl::StrCat("start_ts ", start_ts,
                     " is older than the change buffer (",
                     capacity_bytes(), " bytes) holds"),
        begin);
  };
  if (const uint64_t begin = begin_ts(); start_ts < begin) {
    return compacted(begin);
  }
  const uint64_t tail = LoadTail().pos;
  const uint64_t floor = floor_.load(std::memory_order_relaxed);  // (A3)
  // Walk back from the tail while records are at or after start_ts. Bound:
  // the records in the ring.
  uint64_t q = tail;
  while (q > floor) {
    const uint64_t len = LoadWord(q - 1);
    if (!Intact(q - 1)) break;  // the frontier: see below
    if (len < kHeaderWords + kFooterWords || len > q - floor) {
      Corrupt("bad footer", q - 1);
    }
    const uint64_t start = q - len;
    const uint64_t ts = LoadWord(start + 1);
    if (!Intact(start)) break;
    if (ts < start_ts) return q;
    q = start;
  }
  if (q == floor) return q;
  // The record ending at q was overwritten, so (invariant 3) begin_ts_ is
  // now past its commit: if start_ts is still >= begin_ts, that record and
  // every older one is before start_ts, and q is the answer.
  if (const uint64_t begin = begin_ts(); start_ts < begin) {
    return compacted(begin);
  }
  return q;
}

bool ChangeBuffer::ReadHeader(uint64_t pos, Record* record) const {
  const uint64_t len = LoadWord(pos);
  const uint64_t ts = LoadWord(pos + 1);
  const uint64_t w = LoadWord(pos + 2);
  const uint64_t append_ns = LoadWord(pos + 3);
  if (!Intact(pos)) return false;
  if (len < kHeaderWords + kFooterWords || len > capacity_words_) {
    Corrupt("bad header", pos);
  }
  record->commit_ts = ts;
  record->next = pos + len;
  record->changes = static_cast<uint32_t>(w);
  record->flags = static_cast<uint32_t>(w >> 32);
  record->append_unix_ns = static_cast<int64_t>(append_ns);
  return true;
}

int64_t ChangeBuffer::Decode(uint64_t pos, const Record& record,
                             const WatchRange& range, bool values,
                             std::string* key,
                             std::vector<WatchChange>* out) const {
  const uint64_t end = record.next - kFooterWords;
  const bool has_values = (record.flags & kValuesOmitted) == 0;
  int64_t found = 0;
  uint64_t q = pos + kHeaderWords;
  for (uint32_t i = 0; i < record.changes; ++i) {
    // Lengths come from words the appender may be overwriting: bound them
    // by the (validated) record before trusting them.
    const uint64_t kw = q + kChangeWords <= end ? LoadWord(q) : 0;
    const uint64_t value_bytes = q + kChangeWords <= end ? LoadWord(q + 1) : 0;
    const uint64_t key_bytes = static_cast<uint32_t>(kw);
    const uint64_t key_words = Words(key_bytes);
    const uint64_t value_words = has_values ? Words(value_bytes) : 0;
    if (q + kChangeWords > end ||
        key_words + value_words > end - q - kChangeWords) {
      if (!Intact(pos)) return -1;
      Corrupt("bad change", q);
    }
    key->resize(key_bytes);
    CopyOut(q + kChangeWords, key_bytes, key->data());
    if (range.Contains(*key)) {
      if (out == nullptr) return Intact(pos) ? 1 : -1;
      // Over the element already there, if any: its strings keep their
      // capacity.
      WatchChange& c = static_cast<std::size_t>(found) < out->size()
                           ? (*out)[found]
                           : out->emplace_back();
      ++found;
      c.key.assign(*key);
      c.deleted = (kw & kTombstoneBit) != 0;
      if (values && has_values && !c.deleted) {
        c.value.resize(value_bytes);
        CopyOut(q + kChangeWords + key_words, value_bytes, c.value.data());
      } else {
        c.value.clear();
      }
    }
    q += kChangeWords + key_words + value_words;
  }
  if (found > 0) out->resize(found);
  return Intact(pos) ? found : -1;
}

uint64_t ChangeBuffer::buffered_bytes() const {
  const uint64_t tail = tail_.load(std::memory_order_relaxed);
  const uint64_t oldest = oldest_.load(std::memory_order_relaxed);
  return tail > oldest ? (tail - oldest) * 8 : 0;
}

}  // namespace mvkv::mvcc_internal
