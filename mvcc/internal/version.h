// Versions and records: the nodes readers walk.
//
// Thread safety: a Version is immutable once linked into a chain, except its
// `older` link, which only the pipeline's single writer changes (to unlink
// versions nobody can see). A Record's `newest` and skip-list links likewise
// change only in the writer. Readers load every link with acquire, inside a
// reclaim guard; everything unlinked is retired through reclaim/, never
// freed directly (an in-record version, Invariant 4, with its record).
//
// Invariants:
//  1. A chain is ordered newest to oldest by commit_ts, strictly decreasing.
//  2. A Version's commit_ts and payload are written before it is linked
//     (release store of `newest`), so a reader that reaches it sees them.
//  3. Unlinking never changes the `older` link of the version being removed:
//     a reader standing on it continues down the chain.
//  4. A key's first version, when its value is small, lives inside the
//     record's own allocation (Record::in_record_version(), one cache miss
//     fewer per read). It is the chain's oldest version for good, so its
//     `older` is null forever; pruning unlinks it but never retires it: its
//     bytes go with the record, and a reader standing on it holds the record.
#ifndef MVKV_MVCC_INTERNAL_VERSION_H_
#define MVKV_MVCC_INTERNAL_VERSION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/string_view.h"
#include "mvcc/reclaim_scheme.h"
#include "reclaim/reclaim.h"

namespace mvkv::mvcc_internal {

// Debian's Abseil has its own string_view type; absl::StrCat and friends
// take that, the public API takes std::string_view.
inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// A key for an error message: quoted, C-escaped, cut at 64 bytes.
std::string QuoteKey(std::string_view key);

using ReclaimDomain = EngineReclaimDomain;  // mvcc/reclaim_scheme.h

enum class VersionKind : uint8_t { kBytes, kTombstone, kTyped };

struct Version : reclaim::Node {
  uint64_t commit_ts = 0;
  std::atomic<Version*> older{nullptr};
  uint32_t size = 0;  // payload bytes
  VersionKind kind = VersionKind::kBytes;
  bool in_record = false;  // inside its record's allocation (Invariant 4)
  void (*destroy)(void*) = nullptr;  // kTyped: destroys the payload

  static constexpr std::size_t kPayloadOffset = 64;
  char* payload() { return reinterpret_cast<char*>(this) + kPayloadOffset; }
  const char* payload() const {
    return reinterpret_cast<const char*>(this) + kPayloadOffset;
  }
  std::string_view bytes() const { return {payload(), size}; }
  bool tombstone() const { return kind == VersionKind::kTombstone; }
  // Bytes this version occupies, for the accounts.
  std::size_t footprint() const { return kPayloadOffset + size; }
};
static_assert(sizeof(Version) <= Version::kPayloadOffset);

// A byte value or a tombstone (value ignored).
Version* NewBytesVersion(std::string_view value, bool tombstone);
// Frees a version and returns its footprint (a reclaim::Deleter). A no-op
// returning 0 for a version in its record (freed with the record).
std::size_t DeleteVersion(reclaim::Node* node) noexcept;

// One key (or one TVar) and its version chain. Records that are keys also
// carry a skip-list tower of `height` links; the key bytes follow the tower.
struct Record : reclaim::Node {
  static constexpr int kMaxHeight = 16;

  std::atomic<Version*> newest{nullptr};
  uint64_t hash = 0;
  uint32_t key_size = 0;
  uint8_t height = 0;     // 0 for TVars and the skip list's head
  // Writer-only bookkeeping.
  uint32_t chain_length = 0;
  bool in_index = false;
  bool has_in_record_version = false;  // immutable after NewRecord
  std::atomic<Record*> next[1];  // `height` entries (>= 1 allocated)

  std::string_view key() const {
    return {reinterpret_cast<const char*>(&next[height > 0 ? height : 1]),
            key_size};
  }
  // The version inside this record's allocation, after the key (16-aligned),
  // or null (Invariant 4). Computed from the record alone, so a reader may
  // compare a version's address with it before touching the version.
  const Version* in_record_version() const;
  Version* in_record_version() {
    return const_cast<Version*>(std::as_const(*this).in_record_version());
  }
};

// Bytes before a record's tower: the tower is its last member, so this is
// sizeof(Record) less the one link it declares.
inline constexpr std::size_t kRecordTowerOffset =
    sizeof(Record) - sizeof(std::atomic<Record*>);

// A record for `key` with a tower of `height` links, all null.
Record* NewRecord(std::string_view key, uint64_t hash, int height);
// Values up to this many bytes get their key's first version inside the
// record (NewRecordWithValue).
inline constexpr std::size_t kMaxInRecordValueBytes = 128;
// NewRecord, plus a bytes version of `value` inside the record
// (in_record_version(), not yet linked). REQUIRES: value.size() <=
// kMaxInRecordValueBytes and height >= 1 (a key's record).
Record* NewRecordWithValue(std::string_view key, uint64_t hash, int height,
                           std::string_view value);
// Bytes a record occupies (what DeleteRecord returns).
std::size_t RecordFootprint(const Record* r);
// Frees a record (not its versions); a reclaim::Deleter.
std::size_t DeleteRecord(reclaim::Node* node) noexcept;

}  // namespace mvkv::mvcc_internal

#endif  // MVKV_MVCC_INTERNAL_VERSION_H_
