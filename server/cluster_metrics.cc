#include "server/cluster_metrics.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_type.h"

namespace mvkv::server {
namespace {

using prometheus::MetricType;

using Values = std::vector<std::pair<std::string, double>>;

class Families {
 public:
  // Adds gauge or counter mvkv_raft_<name> with one value.
  void Add(const std::string& name, const char* help, double value,
           MetricType type = MetricType::Gauge) {
    Family(name, help, type).metric.push_back(Metric(type, value));
  }
  // Adds gauge mvkv_raft_<name> with one value per `label` value (none if
  // `values` is empty).
  void AddLabelled(const std::string& name, const char* help,
                   const std::string& label, const Values& values) {
    if (values.empty()) return;
    prometheus::MetricFamily& f = Family(name, help, MetricType::Gauge);
    for (const auto& [label_value, value] : values) {
      prometheus::ClientMetric m = Metric(MetricType::Gauge, value);
      m.label.push_back({label, label_value});
      f.metric.push_back(std::move(m));
    }
  }
  std::vector<prometheus::MetricFamily> Take() { return std::move(out_); }

 private:
  prometheus::MetricFamily& Family(const std::string& name, const char* help,
                                   MetricType type) {
    prometheus::MetricFamily& f = out_.emplace_back();
    f.name = absl::StrCat("mvkv_raft_", name);
    f.help = help;
    f.type = type;
    return f;
  }
  static prometheus::ClientMetric Metric(MetricType type, double value) {
    prometheus::ClientMetric m;
    if (type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    return m;
  }

  std::vector<prometheus::MetricFamily> out_;
};

Values Roles(const replication::ClusterInfo& info) {
  using replication::Role;
  Values out;
  for (Role r : {Role::kLeader, Role::kFollower, Role::kCandidate,
                 Role::kStopped}) {
    out.emplace_back(replication::RoleName(r), info.role == r ? 1 : 0);
  }
  return out;
}

Values Memberships(const replication::ClusterInfo& info) {
  using replication::MemberRole;
  Values out;
  for (MemberRole r :
       {MemberRole::kVoter, MemberRole::kStandby, MemberRole::kSpare}) {
    double n = 0;
    for (const replication::MemberInfo& m : info.members) n += m.role == r;
    out.emplace_back(replication::MemberRoleName(r), n);
  }
  return out;
}

// Each other member's match index (or lag), on the leader only (elsewhere
// unknown: no values).
Values Progress(const replication::ClusterInfo& info, bool lag) {
  Values out;
  if (info.role != replication::Role::kLeader) return out;
  for (const replication::MemberInfo& m : info.members) {
    if (m.id == info.node_id) continue;
    out.emplace_back(absl::StrCat(m.id),
                     static_cast<double>(lag ? m.lag : m.match_index));
  }
  return out;
}

}  // namespace

std::vector<prometheus::MetricFamily> ClusterMetricFamilies(
    const replication::ClusterInfo& info) {
  Families f;
  f.AddLabelled("role", "1 for this node's Raft role, 0 for the others",
                "role", Roles(info));
  f.Add("ready", "1 when this node leads and accepts writes", info.ready);
  f.Add("node_id", "This node's id", info.node_id);
  f.Add("term", "Current Raft term", info.term);
  f.Add("leader_id", "The known leader's id (0: none known)", info.leader_id);
  f.Add("last_log_index", "Last Raft log index appended here",
        info.last_log_index);
  f.Add("commit_index", "Last Raft log index known committed",
        info.commit_index);
  f.Add("applied_index", "Last Raft log index applied here",
        info.applied_index);
  f.Add("snapshot_index", "Last log index the latest snapshot covers",
        info.snapshot_index);
  f.Add("applied_ts", "Commit timestamp of the last applied batch",
        info.applied_ts);
  f.Add("log_entries", "Raft log entries held in memory", info.log_entries);
  f.Add("log_bytes", "Bytes of the Raft log entries in memory",
        info.log_bytes);
  f.Add("applier_queue", "Applied entries not yet installed in the engine",
        info.applier_queue);
  f.AddLabelled("members", "Members of the configuration, by membership",
                "membership", Memberships(info));
  f.AddLabelled("follower_match_index",
                "Last log index each follower is known to hold (leader only)",
                "node_id", Progress(info, /*lag=*/false));
  f.AddLabelled("follower_lag",
                "Log entries each follower is behind the leader (leader only)",
                "node_id", Progress(info, /*lag=*/true));
  f.Add("snapshots_taken_total", "Snapshots taken (log compaction)",
        info.snapshots_taken, MetricType::Counter);
  f.Add("snapshots_installed_total", "Snapshots installed from the leader",
        info.snapshots_installed, MetricType::Counter);
  f.Add("snapshot_failures_total", "Snapshots that failed",
        info.snapshot_failures, MetricType::Counter);
  f.Add("leader_changes_total", "New leaders seen (elections and transfers)",
        info.leader_changes, MetricType::Counter);
  f.Add("last_leader_change_timestamp_seconds",
        "When the leader last changed, Unix time (0: never)",
        info.last_leader_change == absl::InfinitePast()
            ? 0
            : absl::ToDoubleSeconds(info.last_leader_change -
                                    absl::UnixEpoch()));
  f.Add("failed", "1 once this node stopped replicating (see Status)",
        info.failure.ok() ? 0 : 1);
  return f.Take();
}

namespace {

class InfoCollectable final : public prometheus::Collectable {
 public:
  explicit InfoCollectable(std::function<replication::ClusterInfo()> info)
      : info_(std::move(info)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    return ClusterMetricFamilies(info_());
  }

 private:
  const std::function<replication::ClusterInfo()> info_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> ClusterCollectable(
    std::function<replication::ClusterInfo()> info) {
  return std::make_shared<InfoCollectable>(std::move(info));
}

}  // namespace mvkv::server
