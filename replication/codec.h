// The bytes replication puts in the Raft log and in snapshots.
//
// Every record (a log entry or a whole snapshot) is
//   magic "mv" (2 bytes) | format version (1 byte, kFormatVersion) |
//   type (1 byte, RecordType) | body | zero bytes (0-7) | CRC-32C of all
//   bytes before it (4 bytes, little endian),
// padded so its size is a multiple of 8: libraft 0.15 pads each entry to 8
// bytes when it writes a log segment but not when it reads one back, so an
// entry of any other length corrupts the log at the next restart.
// Integers in bodies are unsigned LEB128 varints in their shortest form;
// byte strings are a varint length and the bytes. Bodies:
//   kBatch     one commit-pipeline ring batch: n_commits (>= 1), then per
//              commit: commit_ts, n_writes, then per write: kind (0 put,
//              1 tombstone), key (>= 1 byte), value (puts only). Commit
//              timestamps strictly increase.
//   kMember    cluster_id, node_id (>= 1), client_address: a node's client
//              address, which Raft's configuration does not carry.
//   kSnapshot  cluster_id, snapshot_ts, n_members, then per member (node
//              ids strictly increasing): node_id, client_address; then the
//              live keys in strictly increasing order, each: key (>= 1
//              byte), value, commit_ts (in [1, snapshot_ts]); then an empty
//              key and the number of keys.
// The encoding is deterministic (one input, one byte string) and canonical:
// decoding accepts only what the encoder produces, so decode(b) succeeding
// means encode(decode(b)) == b. Decoders check every length against the
// bytes left before reading and return InvalidArgument naming what is wrong,
// for any truncation or corruption; they never crash.
//
// Thread safety: free functions; SnapshotWriter and SnapshotReader are used
// by one thread at a time.
#ifndef MVKV_REPLICATION_CODEC_H_
#define MVKV_REPLICATION_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "mvcc/durability.h"

namespace mvkv::replication {

inline constexpr uint8_t kFormatVersion = 1;
enum class RecordType : uint8_t { kBatch = 1, kMember = 2, kSnapshot = 3 };

// CRC-32C (Castagnoli) of `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

// ---- Batches. ----

// Bytes EncodeBatch writes for `batch`.
std::size_t EncodedBatchSize(absl::Span<const DurableCommit> batch);
// Writes `batch` to out[0, EncodedBatchSize(batch)).
// REQUIRES: batch is not empty; commit timestamps strictly increase.
void EncodeBatch(absl::Span<const DurableCommit> batch, char* out);

// A decoded batch. Owns its bytes: the views in `commits` point into them.
// Move-only (moving keeps the views valid).
struct DecodedBatch {
  std::vector<char> bytes;
  std::vector<DurableWrite> writes;
  std::vector<DurableCommit> commits;  // spans into `writes`

  DecodedBatch() = default;
  DecodedBatch(DecodedBatch&&) = default;
  DecodedBatch& operator=(DecodedBatch&&) = default;
  uint64_t first_ts() const { return commits.front().commit_ts; }
  uint64_t last_ts() const { return commits.back().commit_ts; }
};

// ---- Members. ----

struct MemberRecord {
  std::string cluster_id;
  uint64_t node_id = 0;
  std::string client_address;
};
std::string EncodeMember(const MemberRecord& member);

// ---- Decoding any log record. ----

// The type of the record in `data` after checking its frame (magic, version,
// known type, CRC). InvalidArgument otherwise.
absl::StatusOr<RecordType> CheckRecord(std::string_view data);
// REQUIRES nothing: each checks the frame and its type first.
absl::StatusOr<DecodedBatch> DecodeBatch(std::string_view data);
absl::StatusOr<MemberRecord> DecodeMember(std::string_view data);

// ---- Snapshots. ----

struct SnapshotHeader {
  std::string cluster_id;
  uint64_t snapshot_ts = 0;
  // (node_id, client_address); the writer REQUIRES and the reader checks
  // strictly increasing node ids.
  std::vector<std::pair<uint64_t, std::string>> members;
};

// Streams a snapshot into chunks of about `chunk_bytes`, handing each full
// chunk to `emit` as it fills (so the whole snapshot is never held twice).
class SnapshotWriter final {
 public:
  SnapshotWriter(const SnapshotHeader& header, std::size_t chunk_bytes,
                 std::function<void(std::string&& chunk)> emit);
  // REQUIRES: keys strictly increase; 1 <= commit_ts <= snapshot_ts.
  void Add(const SnapshotEntry& entry);
  // Writes the end marker, the key count and the CRC, and emits the last
  // chunk. Call once.
  void Finish();
  uint64_t keys() const { return keys_; }

 private:
  void Put(std::string_view bytes);
  void Flush();

  std::size_t chunk_bytes_;
  std::function<void(std::string&&)> emit_;
  std::string chunk_;
  uint32_t crc_ = 0;
  std::size_t size_ = 0;  // bytes put so far
  uint64_t keys_ = 0;
};

// Reads a snapshot held in one buffer. Open checks everything (frame, CRC,
// order, bounds, count) in one pass, so Next cannot fail afterwards.
class SnapshotReader final {
 public:
  // `data` must outlive the reader.
  static absl::StatusOr<SnapshotReader> Open(std::string_view data);
  const SnapshotHeader& header() const { return header_; }
  uint64_t keys() const { return keys_; }
  // The next live key (views into `data`), or false at the end.
  bool Next(SnapshotEntry* entry);

 private:
  SnapshotReader() = default;
  SnapshotHeader header_;
  uint64_t keys_ = 0;
  std::string_view entries_;  // from the first key to the end marker
};

}  // namespace mvkv::replication

#endif  // MVKV_REPLICATION_CODEC_H_
