#include "replication/options.h"

#include <arpa/inet.h>

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace mvkv::replication {
namespace {

absl::string_view View(std::string_view s) { return {s.data(), s.size()}; }

// Splits "host:port" at the last colon; false if there is none or the port
// is not 1-65535.
bool SplitHostPort(std::string_view address, std::string_view* host) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return false;
  int port = 0;
  if (!absl::SimpleAtoi(View(address.substr(colon + 1)), &port) || port < 1 ||
      port > 65535) {
    return false;
  }
  *host = address.substr(0, colon);
  return true;
}

absl::Status ValidateMembers(const std::vector<Member>& members) {
  std::set<uint64_t> ids;
  std::set<std::string> addresses;
  for (const Member& m : members) {
    if (m.id == 0) {
      return absl::InvalidArgumentError("member id 0: ids start at 1");
    }
    if (!ids.insert(m.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate node id ", m.id, " in the member list"));
    }
    if (absl::Status s = ValidateRaftAddress(m.raft_address); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("member ", m.id, ": ", s.message()));
    }
    if (absl::Status s = ValidateClientAddress(m.client_address); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("member ", m.id, ": ", s.message()));
    }
    if (!addresses.insert(m.raft_address).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "raft address ", m.raft_address, " is given to two members"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateRaftAddress(std::string_view address) {
  std::string_view host;
  in_addr ip;
  if (!SplitHostPort(address, &host) ||
      inet_pton(AF_INET, std::string(host).c_str(), &ip) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raft address \"", View(address),
        "\" is not an IPv4 address and port (a.b.c.d:port)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateClientAddress(std::string_view address) {
  std::string_view host;
  if (!SplitHostPort(address, &host) || host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client address \"", View(address), "\" is not host:port"));
  }
  return absl::OkStatus();
}

absl::Status ValidateClusterId(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster id \"", View(id), "\" must be 1-64 characters"));
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cluster id \"", View(id), "\" may hold only [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNodeOptions(const NodeOptions& o) {
  if (absl::Status s = ValidateClusterId(o.cluster_id); !s.ok()) return s;
  if (o.node_id == 0) {
    return absl::InvalidArgumentError("node id must be at least 1");
  }
  if (absl::Status s = ValidateRaftAddress(o.raft_address); !s.ok()) return s;
  if (absl::Status s = ValidateClientAddress(o.client_address); !s.ok()) {
    return s;
  }
  if (o.heartbeat_interval < absl::Milliseconds(1) ||
      o.election_timeout < 2 * o.heartbeat_interval) {
    return absl::InvalidArgumentError(
        "timing: heartbeat_interval must be >= 1ms and election_timeout at "
        "least twice it");
  }
  if (o.peer_send_timeout < absl::Milliseconds(1) ||
      o.install_snapshot_timeout <= o.peer_send_timeout) {
    return absl::InvalidArgumentError(
        "timing: peer_send_timeout must be >= 1ms and below "
        "install_snapshot_timeout");
  }
  if (o.snapshot_threshold == 0 || o.snapshot_trailing == 0 ||
      o.max_log_bytes == 0) {
    return absl::InvalidArgumentError(
        "snapshot_threshold, snapshot_trailing and max_log_bytes must be at "
        "least 1");
  }
  if (o.bootstrap.empty()) return absl::OkStatus();
  if (absl::Status s = ValidateMembers(o.bootstrap); !s.ok()) return s;
  std::vector<std::string> ids;
  for (const Member& m : o.bootstrap) {
    if (m.id != o.node_id) {
      ids.push_back(absl::StrCat(m.id));
      continue;
    }
    if (m.raft_address != o.raft_address) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node ", o.node_id, " listens on ", o.raft_address,
          " but the member list gives it ", m.raft_address));
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("node id ", o.node_id, " is not in the member list (",
                   absl::StrJoin(ids, ", "), ")"));
}

absl::StatusOr<std::vector<Member>> ParseMembers(std::string_view text) {
  std::vector<Member> members;
  if (text.empty()) return absl::InvalidArgumentError("empty member list");
  for (absl::string_view item : absl::StrSplit(View(text), ',')) {
    const std::pair<absl::string_view, absl::string_view> id_rest =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    const std::pair<absl::string_view, absl::string_view> addrs =
        absl::StrSplit(id_rest.second, absl::MaxSplits('/', 1));
    Member m;
    if (!absl::SimpleAtoi(id_rest.first, &m.id) || addrs.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "member \"", item,
          "\" is not ID=RAFT_ADDRESS/CLIENT_ADDRESS (e.g. "
          "1=127.0.0.1:9001/127.0.0.1:7070)"));
    }
    m.raft_address = std::string(addrs.first);
    m.client_address = std::string(addrs.second);
    members.push_back(std::move(m));
  }
  if (absl::Status s = ValidateMembers(members); !s.ok()) return s;
  return members;
}

}  // namespace mvkv::replication
