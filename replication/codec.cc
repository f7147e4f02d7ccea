#include "replication/codec.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mvkv::replication {
namespace {

constexpr char kMagic[2] = {'m', 'v'};
constexpr std::size_t kHeaderBytes = 4;
constexpr std::size_t kCrcBytes = 4;
constexpr std::size_t kMaxVarintBytes = 10;
constexpr std::size_t kAlign = 8;

// Zero bytes that bring `size` (header, body and CRC) to a multiple of 8.
std::size_t PadFor(std::size_t size) { return (kAlign - size % kAlign) % kAlign; }

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

std::size_t VarintSize(uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

std::size_t BytesSize(std::string_view s) {
  return VarintSize(s.size()) + s.size();
}

// Appends to a caller-sized buffer.
struct Out {
  char* p;
  void Byte(uint8_t b) { *p++ = static_cast<char>(b); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    Byte(static_cast<uint8_t>(v));
  }
  void Bytes(std::string_view s) {
    Varint(s.size());
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  void Fixed32(uint32_t v) {
    for (int i = 0; i < 4; ++i) Byte(static_cast<uint8_t>(v >> (8 * i)));
  }
};

void PutVarint(std::string* out, uint64_t v) {
  char buf[kMaxVarintBytes];
  Out o{buf};
  o.Varint(v);
  out->append(buf, o.p - buf);
}

void PutBytes(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s.data(), s.size());
}

std::string Header(RecordType type) {
  return std::string{kMagic[0], kMagic[1], static_cast<char>(kFormatVersion),
                     static_cast<char>(type)};
}

uint32_t Fixed32At(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  }
  return v;
}

// A bounds-checked reader over a body. The first failure is kept; later
// reads fail too, so callers may check once at the end of a step.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : p_(data.data()), end_(p_ + data.size()) {}
  bool ok() const { return error_.ok(); }
  const absl::Status& error() const { return error_; }
  std::size_t left() const { return end_ - p_; }
  const char* position() const { return p_; }
  bool Fail(std::string what) {
    if (error_.ok()) error_ = absl::InvalidArgumentError(std::move(what));
    return false;
  }

  bool Byte(uint8_t* out, const char* what) {
    if (!ok()) return false;
    if (p_ == end_) return Fail(absl::StrCat("truncated before ", what));
    *out = static_cast<uint8_t>(*p_++);
    return true;
  }
  // Shortest-form LEB128 only (canonical), at most 64 bits.
  bool Varint(uint64_t* out, const char* what) {
    if (!ok()) return false;
    uint64_t v = 0;
    for (std::size_t i = 0; i < kMaxVarintBytes; ++i) {
      if (p_ == end_) return Fail(absl::StrCat("truncated inside ", what));
      const uint8_t b = static_cast<uint8_t>(*p_++);
      if (i == kMaxVarintBytes - 1 && b > 1) {
        return Fail(absl::StrCat(what, " overflows 64 bits"));
      }
      v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) {
        if (b == 0 && i > 0) {
          return Fail(absl::StrCat(what, " is not in shortest form"));
        }
        *out = v;
        return true;
      }
    }
    return Fail(absl::StrCat(what, " is longer than 10 bytes"));
  }
  bool Bytes(std::string_view* out, const char* what) {
    uint64_t n = 0;
    if (!Varint(&n, what)) return false;
    if (n > left()) {
      return Fail(absl::StrCat(what, " of ", n, " bytes runs past the end (",
                               left(), " left)"));
    }
    *out = std::string_view(p_, n);
    p_ += n;
    return true;
  }
  // A count of items that take at least `min_bytes` each: bounded by what
  // is left, so a corrupt count cannot make a decoder allocate.
  bool Count(uint64_t* out, std::size_t min_bytes, const char* what) {
    if (!Varint(out, what)) return false;
    if (*out > left() / min_bytes) {
      return Fail(absl::StrCat(what, " ", *out, " cannot fit in the ", left(),
                               " bytes left"));
    }
    return true;
  }
  // The body ends here: only the alignment padding (zeros, fewer than 8)
  // may follow.
  bool End(const char* record) {
    if (!ok()) return false;
    if (left() >= kAlign) {
      return Fail(absl::StrCat(left(), " trailing bytes after the ", record));
    }
    for (const char* p = p_; p != end_; ++p) {
      if (*p != 0) return Fail(absl::StrCat("nonzero padding after the ", record));
    }
    return true;
  }

 private:
  const char* p_;
  const char* end_;
  absl::Status error_;
};

// The body of a record of type `want`, after checking the frame.
absl::StatusOr<std::string_view> Body(std::string_view data, RecordType want) {
  absl::StatusOr<RecordType> type = CheckRecord(data);
  if (!type.ok()) return type.status();
  if (*type != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record of type ", static_cast<int>(*type), ", expected type ",
        static_cast<int>(want)));
  }
  return data.substr(kHeaderBytes, data.size() - kHeaderBytes - kCrcBytes);
}

}  // namespace

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (char ch : data) {
    crc = kCrcTable[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

absl::StatusOr<RecordType> CheckRecord(std::string_view data) {
  if (data.size() < kHeaderBytes + kCrcBytes || data.size() % kAlign != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record of ", data.size(),
        " bytes is shorter than its frame or not a multiple of 8"));
  }
  if (data[0] != kMagic[0] || data[1] != kMagic[1]) {
    return absl::InvalidArgumentError("record does not start with \"mv\"");
  }
  if (static_cast<uint8_t>(data[2]) != kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record format version ", static_cast<uint8_t>(data[2]),
        " is not the supported version ", kFormatVersion));
  }
  const uint8_t type = static_cast<uint8_t>(data[3]);
  if (type < static_cast<uint8_t>(RecordType::kBatch) ||
      type > static_cast<uint8_t>(RecordType::kSnapshot)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown record type ", type));
  }
  const std::size_t n = data.size() - kCrcBytes;
  if (Crc32c(data.substr(0, n)) != Fixed32At(data.data() + n)) {
    return absl::InvalidArgumentError("record checksum mismatch");
  }
  return static_cast<RecordType>(type);
}

// ---- Batches. ----

std::size_t EncodedBatchSize(absl::Span<const DurableCommit> batch) {
  std::size_t n = kHeaderBytes + VarintSize(batch.size()) + kCrcBytes;
  for (const DurableCommit& c : batch) {
    n += VarintSize(c.commit_ts) + VarintSize(c.writes.size());
    for (const DurableWrite& w : c.writes) {
      n += 1 + BytesSize(w.key) + (w.tombstone ? 0 : BytesSize(w.value));
    }
  }
  return n + PadFor(n);
}

void EncodeBatch(absl::Span<const DurableCommit> batch, char* out) {
  const std::string header = Header(RecordType::kBatch);
  std::memcpy(out, header.data(), kHeaderBytes);
  Out o{out + kHeaderBytes};
  o.Varint(batch.size());
  for (const DurableCommit& c : batch) {
    o.Varint(c.commit_ts);
    o.Varint(c.writes.size());
    for (const DurableWrite& w : c.writes) {
      o.Byte(w.tombstone ? 1 : 0);
      o.Bytes(w.key);
      if (!w.tombstone) o.Bytes(w.value);
    }
  }
  const std::size_t pad = PadFor(o.p - out + kCrcBytes);
  std::memset(o.p, 0, pad);
  o.p += pad;
  o.Fixed32(Crc32c(std::string_view(out, o.p - out)));
}

absl::StatusOr<DecodedBatch> DecodeBatch(std::string_view data) {
  absl::StatusOr<std::string_view> body = Body(data, RecordType::kBatch);
  if (!body.ok()) return body.status();
  DecodedBatch batch;
  batch.bytes.assign(data.begin(), data.end());
  const std::string_view own(batch.bytes.data() + kHeaderBytes, body->size());
  Cursor in(own);
  uint64_t n_commits = 0;
  // A commit is at least its timestamp and its write count.
  if (!in.Count(&n_commits, 2, "commit count")) return in.error();
  if (n_commits == 0) return absl::InvalidArgumentError("batch has no commits");
  std::vector<std::pair<uint64_t, std::size_t>> ends;  // (ts, end in writes)
  ends.reserve(n_commits);
  uint64_t prev_ts = 0;
  for (uint64_t i = 0; i < n_commits; ++i) {
    uint64_t ts = 0, n_writes = 0;
    if (!in.Varint(&ts, "commit timestamp") ||
        !in.Count(&n_writes, 3, "write count")) {
      return in.error();
    }
    if (ts <= prev_ts) {
      return absl::InvalidArgumentError(absl::StrCat(
          "commit timestamp ", ts, " does not follow ", prev_ts));
    }
    prev_ts = ts;
    for (uint64_t j = 0; j < n_writes; ++j) {
      uint8_t kind = 0;
      DurableWrite w;
      if (!in.Byte(&kind, "write kind")) return in.error();
      if (kind > 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown write kind ", kind));
      }
      w.tombstone = kind == 1;
      if (!in.Bytes(&w.key, "key")) return in.error();
      if (w.key.empty()) return absl::InvalidArgumentError("empty key");
      if (!w.tombstone && !in.Bytes(&w.value, "value")) return in.error();
      batch.writes.push_back(w);
    }
    ends.emplace_back(ts, batch.writes.size());
  }
  if (!in.End("batch")) return in.error();
  std::size_t begin = 0;
  for (const auto& [ts, end] : ends) {
    batch.commits.push_back(
        {ts, absl::Span<const DurableWrite>(batch.writes.data() + begin,
                                            end - begin)});
    begin = end;
  }
  return batch;
}

// ---- Members. ----

std::string EncodeMember(const MemberRecord& member) {
  std::string out = Header(RecordType::kMember);
  PutBytes(&out, member.cluster_id);
  PutVarint(&out, member.node_id);
  PutBytes(&out, member.client_address);
  out.append(PadFor(out.size() + kCrcBytes), '\0');
  const uint32_t crc = Crc32c(out);
  char tail[kCrcBytes];
  Out{tail}.Fixed32(crc);
  out.append(tail, kCrcBytes);
  return out;
}

absl::StatusOr<MemberRecord> DecodeMember(std::string_view data) {
  absl::StatusOr<std::string_view> body = Body(data, RecordType::kMember);
  if (!body.ok()) return body.status();
  Cursor in(*body);
  std::string_view cluster, address;
  MemberRecord m;
  in.Bytes(&cluster, "cluster id");
  in.Varint(&m.node_id, "node id");
  in.Bytes(&address, "client address");
  if (!in.End("member record")) return in.error();
  if (m.node_id == 0) return absl::InvalidArgumentError("node id 0");
  m.cluster_id.assign(cluster);
  m.client_address.assign(address);
  return m;
}

// ---- Snapshots. ----

SnapshotWriter::SnapshotWriter(const SnapshotHeader& header,
                               std::size_t chunk_bytes,
                               std::function<void(std::string&&)> emit)
    : chunk_bytes_(std::max<std::size_t>(chunk_bytes, 64)),
      emit_(std::move(emit)) {
  std::string head = Header(RecordType::kSnapshot);
  PutBytes(&head, header.cluster_id);
  PutVarint(&head, header.snapshot_ts);
  PutVarint(&head, header.members.size());
  for (const auto& [id, address] : header.members) {
    PutVarint(&head, id);
    PutBytes(&head, address);
  }
  chunk_.reserve(chunk_bytes_);
  Put(head);
}

void SnapshotWriter::Put(std::string_view bytes) {
  crc_ = Crc32c(bytes, crc_);
  size_ += bytes.size();
  chunk_.append(bytes.data(), bytes.size());
  if (chunk_.size() >= chunk_bytes_) Flush();
}

void SnapshotWriter::Flush() {
  emit_(std::move(chunk_));
  chunk_ = std::string();
  chunk_.reserve(chunk_bytes_);
}

void SnapshotWriter::Add(const SnapshotEntry& entry) {
  std::string rec;
  rec.reserve(BytesSize(entry.key) + BytesSize(entry.value) + kMaxVarintBytes);
  PutBytes(&rec, entry.key);
  PutBytes(&rec, entry.value);
  PutVarint(&rec, entry.commit_ts);
  Put(rec);
  ++keys_;
}

void SnapshotWriter::Finish() {
  std::string tail;
  PutVarint(&tail, 0);  // the empty key: end of the keys
  PutVarint(&tail, keys_);
  tail.append(PadFor(size_ + tail.size() + kCrcBytes), '\0');
  Put(tail);
  char crc[kCrcBytes];
  Out{crc}.Fixed32(crc_);
  chunk_.append(crc, kCrcBytes);
  Flush();
}

absl::StatusOr<SnapshotReader> SnapshotReader::Open(std::string_view data) {
  absl::StatusOr<std::string_view> body = Body(data, RecordType::kSnapshot);
  if (!body.ok()) return body.status();
  SnapshotReader reader;
  SnapshotHeader& h = reader.header_;
  Cursor in(*body);
  std::string_view cluster;
  uint64_t n_members = 0;
  in.Bytes(&cluster, "cluster id");
  in.Varint(&h.snapshot_ts, "snapshot timestamp");
  if (!in.Count(&n_members, 2, "member count")) return in.error();
  h.cluster_id.assign(cluster);
  for (uint64_t i = 0; i < n_members; ++i) {
    uint64_t id = 0;
    std::string_view address;
    if (!in.Varint(&id, "member id") || !in.Bytes(&address, "member address")) {
      return in.error();
    }
    if (id == 0 || (!h.members.empty() && id <= h.members.back().first)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "member id ", id, " is zero or out of order"));
    }
    h.members.emplace_back(id, std::string(address));
  }
  const char* first = in.position();
  std::string_view prev;
  // Bound: each round consumes at least the key's length byte.
  while (true) {
    std::string_view key, value;
    uint64_t ts = 0;
    if (!in.Bytes(&key, "key")) return in.error();
    if (key.empty()) break;
    if (!in.Bytes(&value, "value") || !in.Varint(&ts, "commit timestamp")) {
      return in.error();
    }
    if (reader.keys_ > 0 && key <= prev) {
      return absl::InvalidArgumentError("snapshot keys out of order");
    }
    if (ts == 0 || ts > h.snapshot_ts) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key committed at ", ts, " outside [1, ", h.snapshot_ts, "]"));
    }
    prev = key;
    ++reader.keys_;
  }
  reader.entries_ = std::string_view(first, in.position() - first);
  uint64_t count = 0;
  in.Varint(&count, "key count");
  if (!in.End("snapshot")) return in.error();
  if (count != reader.keys_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snapshot says ", count, " keys, holds ", reader.keys_));
  }
  return reader;
}

bool SnapshotReader::Next(SnapshotEntry* entry) {
  Cursor in(entries_);
  std::string_view key;
  in.Bytes(&key, "key");
  if (!in.ok() || key.empty()) return false;
  in.Bytes(&entry->value, "value");
  in.Varint(&entry->commit_ts, "commit timestamp");
  entry->key = key;
  entries_.remove_prefix(in.position() - entries_.data());
  return in.ok();
}

}  // namespace mvkv::replication
