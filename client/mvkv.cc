// mvkv: the command-line client of mvkv_server. Flags and commands are
// parsed with CLI11; `mvkv --help` (and `mvkv COMMAND --help`) list them,
// with the exit codes below.
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "client/cli_batch.h"
#include "client/cli_output.h"
#include "client/client.h"
#include "client/cluster_output.h"

namespace mvkv::client {
namespace {

constexpr char kFooter[] = R"FOOTER(Transaction scripts (txn): one operation per line,
  get KEY | put KEY VALUE | del KEY | scan START [END [LIMIT]] | commit | rollback
Blank lines and lines starting with # are skipped. The script runs in one
interactive transaction (--isolation); `commit` commits it; a script that ends
without commit/rollback is rolled back. With --retries=N the whole script is
rerun on ABORTED.

Batch files (batch): one autocommit operation per line,
  get KEY | put KEY VALUE | del KEY
each its own transaction, all concurrent (no order among them), sent in Batch
calls of --batch_ops operations (at most the server's --max_batch_ops) or,
with --pipeline, on one Pipeline stream. One line per operation, in file order:
the value or "(not found)", "OK commit_ts=N", "deleted commit_ts=N" or
"not found", or "ERROR CODE: message" for an operation that failed (the exit
code is then the first failure's).

Output: values are printed raw, one per line; scan prints KEY<TAB>VALUE lines.
With --json every command prints one JSON value on one line; keys and values
are bytes, one JSON character per byte (bytes >= 0x80 as \u0080..\u00ff).

Cluster (a replicated mvkv_server, mvkv.v1.Cluster): `cluster status` is the
view of the server asked (the first of --server that answers), from any node;
add, remove and transfer run on the leader: a follower's refusal naming the
leader is followed there, and a server that cannot be reached is skipped.
`cluster add` needs a node started to join (empty bootstrap) and returns once
it caught up and votes (a big snapshot may need more than --timeout: on
DEADLINE_EXCEEDED the change goes on; see `cluster status`); the last voter
cannot be removed.

Exit codes:
  0  success
  1  not found: key (get, del; a get inside txn prints "(not found)" instead),
     or node id (cluster remove, cluster transfer)
  2  usage error
  3  server error (message on stderr), including UNAUTHENTICATED and
     INVALID_ARGUMENT
  4  aborted: transaction conflict (retry may succeed)
  5  unavailable: cannot connect, server shutting down, deadline exceeded,
     no cluster leader known, a node added that did not catch up)FOOTER";

enum Exit {
  kOk = 0,
  kNotFound = 1,
  kUsage = 2,
  kServer = 3,
  kAborted = 4,
  kUnavailable = 5
};

struct Flags {
  ClientOptions client;
  double timeout_seconds = 10;
  bool json = false;
  uint32_t limit = 0;
  uint64_t from = 0;
  uint64_t count = 0;
  std::string isolation = "snapshot";
  std::string consistency = "linearizable";
  int retries = 1;
  BatchRun batch;
};

int UsageError(const std::string& message) {
  std::fprintf(stderr, "mvkv: %s\nRun mvkv --help for usage.\n",
               message.c_str());
  return kUsage;
}

int StatusExit(const absl::Status& s) {
  std::fprintf(stderr, "mvkv: %s: %s\n",
               absl::StatusCodeToString(s.code()).c_str(),
               std::string(s.message()).c_str());
  switch (s.code()) {
    case absl::StatusCode::kNotFound:
      return kNotFound;
    case absl::StatusCode::kAborted:
      return kAborted;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kUnavailable;
    default:
      return kServer;
  }
}

absl::StatusOr<std::string> ReadInput(const std::string& path) {
  std::ostringstream text;
  if (path.empty() || path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  text << in.rdbuf();
  return text.str();
}

int RunTxn(Client& c, const Flags& f, const std::string& file) {
  auto text = ReadInput(file);
  if (!text.ok()) return UsageError(std::string(text.status().message()));
  auto script = ParseScript(*text);
  if (!script.ok()) return UsageError(std::string(script.status().message()));
  auto isolation = ParseIsolation(f.isolation);
  if (!isolation.ok()) return UsageError(std::string(isolation.status().message()));
  absl::Status last;
  for (int attempt = 0; attempt < f.retries; ++attempt) {
    std::vector<std::string> out;
    last = RunScript(c, *script, *isolation, f.json, &out);
    if (last.ok()) {
      for (const std::string& line : out) PrintLine(line);
      return kOk;
    }
    if (!absl::IsAborted(last)) break;
  }
  return StatusExit(last);
}

Consistency ToConsistency(const Flags& f) {
  return f.consistency == "stale" ? Consistency::kStale
                                  : Consistency::kLinearizable;
}

void PrintJsonOr(bool json, const nlohmann::ordered_json& value,
                 const std::string& line) {
  if (json) {
    PrintJson(value);
  } else {
    PrintLine(line);
  }
}

int RunBatchFile(Client& c, const Flags& f, const std::string& file) {
  auto text = ReadInput(file);
  if (!text.ok()) return UsageError(std::string(text.status().message()));
  auto ops = ParseBatch(*text);
  if (!ops.ok()) return UsageError(std::string(ops.status().message()));
  BatchRun run = f.batch;
  run.json = f.json;
  std::vector<std::string> out;
  absl::Status first_error;
  if (absl::Status s = RunBatch(c, *ops, run, &out, &first_error); !s.ok()) {
    return StatusExit(s);
  }
  for (const std::string& line : out) PrintLine(line);
  return first_error.ok() ? int{kOk} : StatusExit(first_error);
}

// The commands: each adds its subcommand and arguments to `app` and sets
// `run` to what it does once the flags are parsed.
using Run = std::function<int(Client&)>;

// The exit code of a call's result: its error's, or print(value)'s.
template <class T, class Print>
int Report(const absl::StatusOr<T>& result, Print print) {
  if (!result.ok()) return StatusExit(result.status());
  return print(*result);
}

void AddCommands(CLI::App& app, Flags& f, Run& run) {
  static std::string key, value, start, end, file;

  auto* get = app.add_subcommand("get", "print the value of KEY");
  get->add_option("KEY", key, "the key")->required();
  get->callback([&] {
    run = [&](Client& c) {
      return Report(c.Get(key, ToConsistency(f)), [&](const KeyValue& kv) {
        PrintKeyValue(kv, f.json);
        return kOk;
      });
    };
  });

  auto* put = app.add_subcommand("put", "write KEY (prints the commit timestamp)");
  put->add_option("KEY", key, "the key")->required();
  put->add_option("VALUE", value, "the value")->required();
  put->callback([&] {
    run = [&](Client& c) {
      return Report(c.Put(key, value), [&](uint64_t ts) {
        if (f.json) {
          PrintJson({{"commit_ts", ts}});
        } else {
          PrintLine(absl::StrCat("OK commit_ts=", ts));
        }
        return kOk;
      });
    };
  });

  auto* del = app.add_subcommand("del", "delete KEY (exit 1 if it did not exist)");
  del->add_option("KEY", key, "the key")->required();
  del->callback([&] {
    run = [&](Client& c) {
      return Report(c.Delete(key), [&](const DeleteResult& r) {
        if (f.json) {
          PrintJson({{"existed", r.existed}, {"commit_ts", r.commit_ts}});
        } else {
          PrintLine(r.existed ? absl::StrCat("deleted commit_ts=", r.commit_ts)
                              : "not found");
        }
        return r.existed ? kOk : kNotFound;
      });
    };
  });

  auto* scan = app.add_subcommand(
      "scan", "keys in [START, END) in order (END empty = to the last key)");
  scan->add_option("START", start, "first key (default: the first)");
  scan->add_option("END", end, "end, exclusive (default: to the last key)");
  scan->callback([&] {
    run = [&](Client& c) {
      return Report(c.Scan(start, end, f.limit, ToConsistency(f)), [&](const ScanResult& r) {
        PrintScan(r, f.json);
        return kOk;
      });
    };
  });

  auto* watch = app.add_subcommand(
      "watch",
      "print every commit to keys starting with PREFIX as it happens, in "
      "commit order, resuming by itself after a dropped connection; exit 3 "
      "with OUT_OF_RANGE \"compacted\" if --from is no longer buffered");
  watch->add_option("PREFIX", key, "key prefix (default: every key)");
  watch->add_option("--from", f.from,
                    "first commit timestamp to print (default: the next)");
  watch->add_option("--count", f.count,
                    "exit 0 after this many commits (default: never)");
  watch->callback([&] {
    run = [&](Client& c) {
      WatchOptions options;
      options.start_ts = f.from;
      auto watcher = c.Watch(WatchTarget::Prefix(key), options);
      if (!watcher.ok()) return StatusExit(watcher.status());
      for (uint64_t n = 0; f.count == 0 || n < f.count; ++n) {
        auto event = (*watcher)->Next();
        if (!event.ok()) return StatusExit(event.status());
        PrintWatchEvent(*event, f.json);
        std::fflush(stdout);
      }
      return static_cast<int>(kOk);
    };
  });

  auto* txn = app.add_subcommand(
      "txn", "run a transaction script from FILE (default stdin; see below)");
  txn->add_option("FILE", file, "script file, or - for stdin");
  txn->callback([&] { run = [&](Client& c) { return RunTxn(c, f, file); }; });

  auto* batch = app.add_subcommand(
      "batch",
      "run a file of autocommit operations from FILE in batches (default "
      "stdin; see below)");
  batch->add_option("FILE", file, "batch file, or - for stdin");
  batch->add_flag("--pipeline", f.batch.pipeline,
                  "send on one Pipeline stream instead of Batch calls");
  batch->add_option("--batch_ops", f.batch.batch_ops,
                    "operations per Batch call")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  batch->callback(
      [&] { run = [&](Client& c) { return RunBatchFile(c, f, file); }; });

  app.add_subcommand("stats", "the server's engine accounting")->callback([&] {
    run = [&](Client& c) {
      return Report(c.GetStats(), [&](const Stats& r) {
        PrintStats(r, f.json);
        return kOk;
      });
    };
  });

  app.add_subcommand("health",
                     "the standard gRPC health check (SERVING or not)")
      ->callback([&] {
        run = [&](Client& c) {
          absl::Status s = c.Health();
          if (!s.ok()) {
            if (f.json) PrintJson({{"status", "NOT_SERVING"}});
            std::fprintf(stderr, "mvkv: %s\n", std::string(s.message()).c_str());
            return int{kUnavailable};
          }
          if (f.json) {
            PrintJson({{"status", "SERVING"}});
          } else {
            PrintLine("SERVING");
          }
          return int{kOk};
        };
      });
}

// `mvkv cluster status | add ID RAFT CLIENT | remove ID | transfer [ID]`.
void AddClusterCommands(CLI::App& app, Flags& f, Run& run) {
  static uint64_t id = 0;
  static std::string raft_address, client_address;
  static const CLI::Range kNodeId(uint64_t{1},
                                  std::numeric_limits<uint64_t>::max());
  auto* cluster = app.add_subcommand(
      "cluster", "a replicated group: status | add | remove | transfer");
  cluster->require_subcommand(1);

  cluster
      ->add_subcommand("status",
                       "every node's id, role and addresses, the leader, log "
                       "and snapshot counters")
      ->callback([&] {
        run = [&](Client& c) {
          return Report(c.GetClusterStatus(), [&](const ClusterStatus& s) {
            PrintClusterStatus(s, f.json);
            return kOk;
          });
        };
      });

  auto* add = cluster->add_subcommand(
      "add", "add a fresh node (started to join) as a voter, once caught up");
  add->add_option("ID", id, "its node id (>= 1)")
      ->required()
      ->check(kNodeId);
  add->add_option("RAFT_ADDR", raft_address, "its Raft address a.b.c.d:port")
      ->required();
  add->add_option("CLIENT_ADDR", client_address,
                  "its client address host:port")
      ->required();
  add->callback([&] {
    run = [&](Client& c) {
      absl::Status s = c.AddMember(id, raft_address, client_address);
      if (!s.ok()) return StatusExit(s);
      PrintJsonOr(f.json, {{"added", id}}, absl::StrCat("added node ", id));
      return int{kOk};
    };
  });

  auto* remove = cluster->add_subcommand("remove", "remove node ID");
  remove->add_option("ID", id, "the node id")->required()->check(kNodeId);
  remove->callback([&] {
    run = [&](Client& c) {
      absl::Status s = c.RemoveMember(id);
      if (!s.ok()) return StatusExit(s);
      PrintJsonOr(f.json, {{"removed", id}}, absl::StrCat("removed node ", id));
      return int{kOk};
    };
  });

  auto* transfer = cluster->add_subcommand(
      "transfer", "hand leadership to voter ID (default: any voter)");
  transfer->add_option("ID", id, "the node id (0 or none: any)");
  transfer->callback([&] {
    run = [&](Client& c) {
      return Report(c.TransferLeadership(id), [&](const ClusterMember& l) {
        PrintJsonOr(f.json,
                    {{"leader_id", l.id},
                     {"leader_client_address", l.client_address}},
                    absl::StrCat("leader is now node ", l.id, " at ",
                                 l.client_address));
        return kOk;
      });
    };
  });
}

int Main(int argc, char** argv) {
  Flags f;
  Run run;
  CLI::App app{"mvkv: command-line client of mvkv_server.", "mvkv"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the command too
  app.add_option("--server", f.client.server,
                 "server address HOST:PORT, or a cluster's, comma separated "
                 "(calls follow the leader; see client/router.h)")
      ->envname("MVKV_SERVER")
      ->capture_default_str();
  app.add_option("--token", f.client.token, "bearer token")
      ->envname("MVKV_TOKEN");
  app.add_option("--tls_ca", f.client.tls_ca_file,
                 "CA certificate file (PEM); turns TLS on");
  app.add_option("--tls_server_name", f.client.tls_server_name,
                 "name to check in the server certificate");
  app.add_flag("--json", f.json, "machine-readable output (one JSON value)");
  app.add_option("--timeout", f.timeout_seconds, "deadline per call, seconds")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  app.add_option("--limit", f.limit, "scan: at most N pairs (0 = all)");
  app.add_option("--consistency", f.consistency,
                 "get, scan: linearizable (a cluster's leader) or stale (any "
                 "node, at its applied state)")
      ->check(CLI::IsMember({"linearizable", "stale"}))
      ->capture_default_str();
  app.add_option("--isolation", f.isolation, "txn: isolation level")
      ->check(CLI::IsMember({"snapshot", "serializable", "read_committed"}))
      ->capture_default_str();
  app.add_option("--retries", f.retries,
                 "txn: attempts on ABORTED (1 = no retry)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  AddCommands(app, f, run);
  AddClusterCommands(app, f, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);  // prints the help, exit 0
  } catch (const CLI::ParseError& e) {
    return UsageError(e.what());
  }
  f.client.timeout = absl::Seconds(f.timeout_seconds);
  f.client.txn_timeout = std::max(f.client.txn_timeout, f.client.timeout);
  auto client = Client::Connect(f.client);
  if (!client.ok()) return UsageError(std::string(client.status().message()));
  return run(**client);
}

}  // namespace
}  // namespace mvkv::client

int main(int argc, char** argv) { return mvkv::client::Main(argc, argv); }
