#include "replication/internal/raft_status.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "replication/internal/libraft.h"

namespace mvkv::replication_internal {
namespace {

absl::StatusCode CodeOf(int rv) {
  switch (rv) {
    case RAFT_NOMEM:
    case RAFT_NOSPACE:
    case RAFT_TOOMANY:
    case RAFT_TOOBIG:
      return absl::StatusCode::kResourceExhausted;
    case RAFT_BADID:
    case RAFT_BADROLE:
    case RAFT_MALFORMED:
    case RAFT_INVALID:
    case RAFT_NAMETOOLONG:
      return absl::StatusCode::kInvalidArgument;
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
      return absl::StatusCode::kAlreadyExists;
    case RAFT_CANTBOOTSTRAP:
    case RAFT_CANTCHANGE:
    case RAFT_BUSY:
      return absl::StatusCode::kFailedPrecondition;
    case RAFT_CORRUPT:
      return absl::StatusCode::kDataLoss;
    case RAFT_NOTFOUND:
      return absl::StatusCode::kNotFound;
    case RAFT_UNAUTHORIZED:
      return absl::StatusCode::kPermissionDenied;
    default:  // NOTLEADER, LEADERSHIPLOST, SHUTDOWN, NOCONNECTION, IOERR, ...
      return absl::StatusCode::kUnavailable;
  }
}

}  // namespace

absl::Status RaftStatus(int rv, std::string_view what,
                        std::string_view detail) {
  std::string message =
      absl::StrCat(absl::string_view(what.data(), what.size()), ": ",
                   raft_strerror(rv));
  if (!detail.empty() && detail != raft_strerror(rv)) {
    absl::StrAppend(&message, " (",
                    absl::string_view(detail.data(), detail.size()), ")");
  }
  return absl::Status(CodeOf(rv), message);
}

}  // namespace mvkv::replication_internal
