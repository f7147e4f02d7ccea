#include "client/cluster_output.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/cli_output.h"

namespace mvkv::client {
namespace {

std::string Time(absl::Time t) {
  if (t == absl::InfinitePast()) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string Leader(const ClusterStatus& s) {
  if (s.leader_id == 0) return "no leader known (election in progress?)";
  return absl::StrCat(
      "leader ", s.leader_id, " at ",
      s.leader_client_address.empty() ? "(client address not known yet)"
                                      : s.leader_client_address);
}

// "-" where only the leader knows the value.
std::string Progress(const ClusterStatus& s, uint64_t value) {
  return s.progress_known ? absl::StrCat(value) : "-";
}

}  // namespace

nlohmann::ordered_json ClusterStatusJson(const ClusterStatus& s) {
  nlohmann::ordered_json members = nlohmann::ordered_json::array();
  for (const ClusterMember& m : s.members) {
    nlohmann::ordered_json j = {{"id", m.id},
                                {"role", m.role},
                                {"membership", m.membership},
                                {"client_address", m.client_address},
                                {"raft_address", m.raft_address}};
    if (s.progress_known) {
      j["match_index"] = m.match_index;
      j["lag"] = m.lag;
    }
    members.push_back(std::move(j));
  }
  return {{"cluster_id", s.cluster_id},
          {"node_id", s.node_id},
          {"role", s.role},
          {"ready", s.ready},
          {"term", s.term},
          {"leader_id", s.leader_id},
          {"leader_client_address", s.leader_client_address},
          {"leader_raft_address", s.leader_raft_address},
          {"last_leader_change_unix_ms",
           s.last_leader_change == absl::InfinitePast()
               ? 0
               : absl::ToUnixMillis(s.last_leader_change)},
          {"leader_changes", s.leader_changes},
          {"last_log_index", s.last_log_index},
          {"commit_index", s.commit_index},
          {"applied_index", s.applied_index},
          {"snapshot_index", s.snapshot_index},
          {"applied_ts", s.applied_ts},
          {"log_entries", s.log_entries},
          {"log_bytes", s.log_bytes},
          {"applier_queue", s.applier_queue},
          {"snapshots_taken", s.snapshots_taken},
          {"snapshots_installed", s.snapshots_installed},
          {"snapshot_failures", s.snapshot_failures},
          {"failure", s.failure},
          {"progress_known", s.progress_known},
          {"members", std::move(members)}};
}

std::vector<std::string> ClusterStatusLines(const ClusterStatus& s) {
  std::vector<std::string> out;
  out.push_back(absl::StrCat("cluster ", s.cluster_id, ": ", Leader(s),
                             ", term ", s.term, " (answered by node ",
                             s.node_id, ", ", s.role,
                             s.ready ? ", ready" : "", ")"));
  if (!s.failure.empty()) {
    out.push_back(absl::StrCat("FAILED: this node stopped replicating: ",
                               s.failure));
  }
  constexpr char kRow[] = "%-6s %-10s %-10s %-22s %-22s %8s %8s";
  out.push_back(absl::StrFormat(kRow, "ID", "ROLE", "MEMBERSHIP", "CLIENT",
                                "RAFT", "MATCH", "LAG"));
  for (const ClusterMember& m : s.members) {
    out.push_back(absl::StrFormat(
        kRow, absl::StrCat(m.id), m.role, m.membership,
        m.client_address.empty() ? "-" : m.client_address, m.raft_address,
        Progress(s, m.match_index), Progress(s, m.lag)));
  }
  out.push_back(absl::StrCat(
      "log: last_index=", s.last_log_index, " commit_index=", s.commit_index,
      " applied_index=", s.applied_index, " applied_ts=", s.applied_ts,
      " snapshot_index=", s.snapshot_index, " entries=", s.log_entries,
      " bytes=", s.log_bytes));
  out.push_back(absl::StrCat(
      "snapshots: taken=", s.snapshots_taken,
      " installed=", s.snapshots_installed, " failed=", s.snapshot_failures,
      "; leader changes: ", s.leader_changes,
      ", last ", Time(s.last_leader_change)));
  return out;
}

void PrintClusterStatus(const ClusterStatus& status, bool json) {
  if (json) return PrintJson(ClusterStatusJson(status));
  for (const std::string& line : ClusterStatusLines(status)) PrintLine(line);
}

}  // namespace mvkv::client
