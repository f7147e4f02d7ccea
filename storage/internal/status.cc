#include "storage/internal/status.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace mvkv::storage_internal {
namespace {

absl::string_view View(const std::string& s) {
  return absl::string_view(s.data(), s.size());
}

absl::StatusCode CodeOf(const rocksdb::Status& s) {
  if (s.IsNotFound()) return absl::StatusCode::kNotFound;
  if (s.IsCorruption()) return absl::StatusCode::kDataLoss;
  if (s.IsInvalidArgument()) return absl::StatusCode::kInvalidArgument;
  if (s.IsNotSupported()) return absl::StatusCode::kUnimplemented;
  if (s.IsIOError()) {
    if (s.IsNoSpace()) return absl::StatusCode::kResourceExhausted;
    if (s.ToString().find("Permission denied") != std::string::npos) {
      return absl::StatusCode::kPermissionDenied;
    }
    if (s.IsPathNotFound()) return absl::StatusCode::kNotFound;
    return absl::StatusCode::kUnavailable;
  }
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() ||
      s.IsShutdownInProgress()) {
    return absl::StatusCode::kUnavailable;
  }
  if (s.IsAborted()) return absl::StatusCode::kAborted;
  return absl::StatusCode::kInternal;
}

}  // namespace

absl::Status FromRocksDb(const rocksdb::Status& status,
                         const std::string& context) {
  if (status.ok()) return absl::OkStatus();
  const std::string text = status.ToString();
  return absl::Status(CodeOf(status),
                      absl::StrCat(View(context), ": rocksdb: ", View(text)));
}

}  // namespace mvkv::storage_internal
