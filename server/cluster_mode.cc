#include "server/cluster_mode.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mvkv::server {
namespace {

// The port of "host:port" ("" if none).
std::string PortOf(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  return colon == std::string::npos ? "" : address.substr(colon + 1);
}

}  // namespace

absl::StatusOr<replication::NodeOptions> ToNodeOptions(
    const ClusterOptions& cluster, const std::string& listen,
    const std::string& data_dir, bool create) {
  replication::NodeOptions o;
  o.cluster_id = cluster.cluster_id;
  o.node_id = cluster.node_id;
  o.raft_address = cluster.raft_listen;
  o.data_dir = data_dir;
  o.create_if_missing = create;
  o.election_timeout = cluster.election_timeout;
  o.heartbeat_interval = cluster.heartbeat_interval;
  o.read_lease = cluster.read_lease;
  o.snapshot_threshold = cluster.snapshot_threshold;
  o.snapshot_trailing = std::min<uint32_t>(o.snapshot_trailing,
                                           cluster.snapshot_threshold);
  o.max_log_bytes = cluster.max_log_bytes;
  o.peer_send_timeout = cluster.peer_send_timeout;
  if (cluster.raft_listen.empty()) {
    return absl::InvalidArgumentError(
        "--raft_listen is required with --node_id (IPv4 a.b.c.d:port)");
  }
  if (absl::Status s = replication::ValidateRaftAddress(cluster.raft_listen);
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--raft_listen: ", s.message()));
  }
  if (cluster.join == !cluster.peers.empty()) {
    return absl::InvalidArgumentError(
        cluster.join ? "--join and --peers are exclusive: a joining node "
                       "waits to be added (mvkv cluster add)"
                     : "--node_id needs --peers (the initial group) or "
                       "--join (wait to be added)");
  }
  std::string own_client;
  if (!cluster.join) {
    auto members = replication::ParseMembers(cluster.peers);
    if (!members.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--peers: ", members.status().message()));
    }
    for (const replication::Member& m : *members) {
      if (m.id != cluster.node_id) continue;
      if (m.raft_address != cluster.raft_listen) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--peers lists node ", m.id, " at raft address ", m.raft_address,
            " but --raft_listen is ", cluster.raft_listen));
      }
      own_client = m.client_address;
    }
    if (own_client.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--node_id ", cluster.node_id, " is not in --peers \"",
          cluster.peers, "\""));
    }
    o.bootstrap = *std::move(members);
  }
  o.client_address = !cluster.advertise.empty() ? cluster.advertise
                     : !own_client.empty()      ? own_client
                                                : listen;
  if (absl::Status s = replication::ValidateClientAddress(o.client_address);
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("client address of this node: ", s.message()));
  }
  const std::string listen_port = PortOf(listen);
  if (cluster.advertise.empty() && listen_port != "0" &&
      PortOf(o.client_address) != listen_port) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--peers gives node ", cluster.node_id, " the client address ",
        o.client_address, " but --listen is ", listen,
        " (set --advertise if a proxy or NAT maps the port)"));
  }
  if (!own_client.empty() && !cluster.advertise.empty() &&
      own_client != cluster.advertise) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--advertise ", cluster.advertise, " differs from this node's "
        "client address in --peers, ", own_client));
  }
  if (absl::Status s = replication::ValidateNodeOptions(o); !s.ok()) return s;
  return o;
}

}  // namespace mvkv::server
