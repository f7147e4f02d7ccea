// libFuzzer target for the replication codec: any input, decoded as each
// record type, must either be refused with InvalidArgument or decode to
// something the encoder writes back byte for byte (canonical form); a
// snapshot that opens must iterate exactly its key count. Built with clang
// (see the BUILD target); replication/codec_test runs a seeded mutation
// fuzz of the same property in every test run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "replication/codec.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mvkv::replication;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (absl::StatusOr<DecodedBatch> b = DecodeBatch(in); b.ok()) {
    std::string out(EncodedBatchSize(b->commits), '\0');
    EncodeBatch(b->commits, out.data());
    Check(out == in);
  } else {
    Check(absl::IsInvalidArgument(b.status()));
  }
  if (absl::StatusOr<MemberRecord> m = DecodeMember(in); m.ok()) {
    Check(EncodeMember(*m) == in);
  } else {
    Check(absl::IsInvalidArgument(m.status()));
  }
  if (absl::StatusOr<SnapshotReader> r = SnapshotReader::Open(in); r.ok()) {
    std::string out;
    SnapshotWriter w(r->header(), 64, [&](std::string&& c) { out += c; });
    mvkv::SnapshotEntry e;
    uint64_t n = 0;
    while (r->Next(&e)) {
      w.Add(e);
      ++n;
    }
    w.Finish();
    Check(n == r->keys());
    Check(out == in);
  } else {
    Check(absl::IsInvalidArgument(r.status()));
  }
  return 0;
}
