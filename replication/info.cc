#include "replication/info.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "replication/internal/not_leader.h"

namespace mvkv {
namespace {

constexpr char kLeaderPayload[] = "type.mvkv.dev/leader";

}  // namespace
}  // namespace mvkv

namespace mvkv::replication {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "follower";
    case Role::kCandidate:
      return "candidate";
    case Role::kLeader:
      return "leader";
    case Role::kStopped:
      return "stopped";
  }
  return "unknown";
}

const char* MemberRoleName(MemberRole role) {
  switch (role) {
    case MemberRole::kVoter:
      return "voter";
    case MemberRole::kStandby:
      return "standby";
    case MemberRole::kSpare:
      return "spare";
  }
  return "unknown";
}

bool IsNotLeader(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         status.GetPayload(kLeaderPayload).has_value();
}

std::optional<std::string> LeaderHint(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnavailable) return std::nullopt;
  absl::optional<absl::Cord> hint = status.GetPayload(kLeaderPayload);
  if (!hint.has_value() || hint->empty()) return std::nullopt;
  return std::string(*hint);
}

}  // namespace mvkv::replication

namespace mvkv::replication_internal {

absl::Status NotLeaderError(uint64_t self, uint64_t leader_id,
                            const std::string& leader_client_address) {
  absl::Status s;
  if (leader_id == 0) {
    s = absl::UnavailableError(absl::StrCat(
        "node ", self, " is not the leader and no leader is known now "
        "(an election may be in progress); retry shortly"));
  } else if (leader_id == self) {
    s = absl::UnavailableError(absl::StrCat(
        "node ", self,
        " was just elected and is still applying the log; retry shortly"));
  } else {
    s = absl::UnavailableError(absl::StrCat(
        "node ", self, " is not the leader; the leader is node ", leader_id,
        leader_client_address.empty()
            ? std::string(" (its client address is not known yet)")
            : absl::StrCat(" at ", leader_client_address)));
  }
  // Always set (empty when unknown): IsNotLeader tells a refusal from other
  // Unavailable errors by it.
  s.SetPayload(kLeaderPayload, absl::Cord(leader_client_address));
  return s;
}

}  // namespace mvkv::replication_internal
