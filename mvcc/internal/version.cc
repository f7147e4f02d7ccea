#include "mvcc/internal/version.h"

#include <cstring>
#include <new>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "mvcc/db.h"

namespace mvkv::mvcc_internal {
namespace {

constexpr std::align_val_t kAlign{16};

Version* AllocVersion(std::size_t payload_size) {
  void* raw = ::operator new(Version::kPayloadOffset + payload_size, kAlign);
  auto* v = new (raw) Version();
  v->size = static_cast<uint32_t>(payload_size);
  ReclaimDomain::Default().InitNode(v);
  return v;
}

std::size_t TowerBytes(int height) {
  return sizeof(std::atomic<Record*>) * (height > 0 ? height : 1);
}

std::size_t KeyEnd(int height, std::size_t key_size) {
  return kRecordTowerOffset + TowerBytes(height) + key_size;
}

// Where a record's in-record version starts: after the key, 16-aligned.
std::size_t InRecordOffset(int height, std::size_t key_size) {
  return (KeyEnd(height, key_size) + 15) & ~std::size_t{15};
}

Record* ConstructRecord(void* raw, std::string_view key, uint64_t hash,
                        int height) {
  auto* r = new (raw) Record();
  r->hash = hash;
  r->key_size = static_cast<uint32_t>(key.size());
  r->height = static_cast<uint8_t>(height);
  for (int i = 1; i < height; ++i) new (&r->next[i]) std::atomic<Record*>(nullptr);
  if (!key.empty()) {
    std::memcpy(const_cast<char*>(r->key().data()), key.data(), key.size());
  }
  return r;
}

}  // namespace

std::string QuoteKey(std::string_view key) {
  constexpr std::size_t kMaxShown = 64;
  std::string shown = absl::CHexEscape(AsAbsl(key.substr(0, kMaxShown)));
  if (key.size() > kMaxShown) absl::StrAppend(&shown, "...");
  return absl::StrCat("\"", shown, "\"");
}

Version* NewBytesVersion(std::string_view value, bool tombstone) {
  Version* v = AllocVersion(tombstone ? 0 : value.size());
  v->kind = tombstone ? VersionKind::kTombstone : VersionKind::kBytes;
  if (!tombstone && !value.empty()) {
    std::memcpy(v->payload(), value.data(), value.size());
  }
  return v;
}

Version* NewTypedVersion(std::size_t size, std::size_t align,
                         void (*destroy)(void*), void** payload) {
  // Payloads start 64 bytes into a 16-aligned block.
  if (align > 16) std::abort();
  Version* v = AllocVersion(size);
  v->kind = VersionKind::kTyped;
  v->destroy = destroy;
  *payload = v->payload();
  return v;
}

std::size_t DeleteVersion(reclaim::Node* node) noexcept {
  auto* v = static_cast<Version*>(node);
  if (v->in_record) return 0;  // freed with its record
  const std::size_t bytes = v->footprint();
  if (v->kind == VersionKind::kTyped) v->destroy(v->payload());
  v->~Version();
  ::operator delete(v, kAlign);
  return bytes;
}

Record* NewRecord(std::string_view key, uint64_t hash, int height) {
  Record* r = ConstructRecord(::operator new(KeyEnd(height, key.size())), key,
                              hash, height);
  ReclaimDomain::Default().InitNode(r);
  return r;
}

Record* NewRecordWithValue(std::string_view key, uint64_t hash, int height,
                           std::string_view value) {
  if (value.size() > kMaxInRecordValueBytes || height < 1) std::abort();
  const std::size_t at = InRecordOffset(height, key.size());
  static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= 16,
                "the in-record version must be 16-aligned, like the others");
  void* raw = ::operator new(at + Version::kPayloadOffset + value.size());
  Record* r = ConstructRecord(raw, key, hash, height);
  r->has_in_record_version = true;
  auto* v = new (static_cast<char*>(raw) + at) Version();
  v->size = static_cast<uint32_t>(value.size());
  v->in_record = true;
  if (!value.empty()) std::memcpy(v->payload(), value.data(), value.size());
  // Both are Nodes a reader may Protect a pointer to.
  ReclaimDomain::Default().InitNode(v);
  ReclaimDomain::Default().InitNode(r);
  return r;
}

const Version* Record::in_record_version() const {
  if (!has_in_record_version) return nullptr;
  return reinterpret_cast<const Version*>(
      reinterpret_cast<const char*>(this) + InRecordOffset(height, key_size));
}

std::size_t RecordFootprint(const Record* r) {
  if (const Version* v = r->in_record_version()) {
    return InRecordOffset(r->height, r->key_size) + v->footprint();
  }
  return KeyEnd(r->height, r->key_size);
}

std::size_t DeleteRecord(reclaim::Node* node) noexcept {
  auto* r = static_cast<Record*>(node);
  const std::size_t bytes = RecordFootprint(r);
  if (Version* v = r->in_record_version()) v->~Version();
  r->~Record();
  ::operator delete(r);
  return bytes;
}

}  // namespace mvkv::mvcc_internal
