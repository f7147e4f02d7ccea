// How the mvkv CLI prints `mvkv cluster status` (client/mvkv.cc): a
// summary line, a table of members, and the node's log and snapshot
// counters; with --json one object on one line (the fields of
// ClusterStatus, proto/cluster.proto's names, members as an array).
//
// Thread safety: pure functions (Print* write to stdout).
#ifndef MVKV_CLIENT_CLUSTER_OUTPUT_H_
#define MVKV_CLIENT_CLUSTER_OUTPUT_H_

#include <string>
#include <vector>

#include "client/client.h"
#include "nlohmann/json.hpp"

namespace mvkv::client {

nlohmann::ordered_json ClusterStatusJson(const ClusterStatus& status);
// The text form, one string per line (no newlines).
std::vector<std::string> ClusterStatusLines(const ClusterStatus& status);
void PrintClusterStatus(const ClusterStatus& status, bool json);

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_CLUSTER_OUTPUT_H_
