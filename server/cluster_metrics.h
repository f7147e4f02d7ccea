// Prometheus metrics of a replication node, read from Node::Info() at
// scrape time (the same report mvkv.v1.Cluster's Status serves):
//   mvkv_raft_role{role}                 1 for the node's Raft role, else 0
//                                        (leader, follower, candidate,
//                                        stopped)
//   mvkv_raft_ready                      1 when it leads and has applied its
//                                        whole log (accepts writes)
//   mvkv_raft_node_id, mvkv_raft_term, mvkv_raft_leader_id (0: none known)
//   mvkv_raft_last_log_index, _commit_index, _applied_index,
//   _snapshot_index, mvkv_raft_applied_ts
//   mvkv_raft_log_entries, mvkv_raft_log_bytes, mvkv_raft_applier_queue
//   mvkv_raft_members{membership}        members by voter/standby/spare
//   mvkv_raft_follower_match_index{node_id}, mvkv_raft_follower_lag{node_id}
//                                        each other member, on the leader only
//   mvkv_raft_snapshots_taken_total, _snapshots_installed_total,
//   _snapshot_failures_total
//   mvkv_raft_leader_changes_total       elections and transfers seen
//   mvkv_raft_last_leader_change_timestamp_seconds  (Unix time; 0: never)
//   mvkv_raft_failed                     1 once the node stopped replicating
//
// Thread safety: Collect() is thread-safe if `info` is (Node::Info is).
#ifndef MVKV_SERVER_CLUSTER_METRICS_H_
#define MVKV_SERVER_CLUSTER_METRICS_H_

#include <functional>
#include <memory>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "replication/info.h"

namespace mvkv::server {

// The families above for one report.
std::vector<prometheus::MetricFamily> ClusterMetricFamilies(
    const replication::ClusterInfo& info);

// A collectable that reads `info()` on every scrape, e.g.
//   metrics->AddCollectable(ClusterCollectable([node] { return node->Info(); }));
// `info` must stay callable while the collectable is registered.
std::shared_ptr<prometheus::Collectable> ClusterCollectable(
    std::function<replication::ClusterInfo()> info);

}  // namespace mvkv::server

#endif  // MVKV_SERVER_CLUSTER_METRICS_H_
