// mvkv: the command-line client of mvkv_server. See kHelp (--help).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/cli_output.h"
#include "client/client.h"

namespace mvkv::client {
namespace {

constexpr char kHelp[] = R"HELP(mvkv: command-line client of mvkv_server.

Usage: mvkv [FLAGS] COMMAND [ARGS]

Commands:
  get KEY                 print the value of KEY
  put KEY VALUE           write KEY (prints the commit timestamp)
  del KEY                 delete KEY (exit 1 if it did not exist)
  scan [START [END]]      keys in [START, END) in order (END empty = to the
                          last key); --limit=N caps the count
  txn [FILE]              run a transaction script from FILE (default stdin),
                          one operation per line:
                            get KEY | put KEY VALUE | del KEY |
                            scan START [END [LIMIT]] | commit | rollback
                          Blank lines and lines starting with # are skipped.
                          The script runs in one interactive transaction
                          (--isolation); `commit` commits it; a script that
                          ends without commit/rollback is rolled back. With
                          --retries=N the whole script is rerun on ABORTED.
  stats                   the server's engine accounting
  health                  the standard gRPC health check (SERVING or not)

Flags:
  --server=HOST:PORT      server address (default 127.0.0.1:7070, or $MVKV_SERVER)
  --token=T               bearer token (or $MVKV_TOKEN)
  --tls_ca=PEM            CA certificate file; turns TLS on
  --tls_server_name=NAME  name to check in the server certificate
  --json                  machine-readable output (one JSON value per command;
                          bytes >= 0x80 in keys/values are escaped as \u00XX)
  --timeout=SECONDS       deadline per call (default 10)
  --limit=N               scan: at most N pairs
  --isolation=LEVEL       txn: snapshot (default), serializable, read_committed
  --retries=N             txn: attempts on ABORTED (default 1 = no retry)
  --help                  this text

Output: values are printed raw, one per line; scan prints KEY<TAB>VALUE lines.

Exit codes:
  0  success
  1  key not found (get, del; a get inside txn prints "(not found)" instead)
  2  usage error
  3  server error (message on stderr), including UNAUTHENTICATED and
     INVALID_ARGUMENT
  4  aborted: transaction conflict (retry may succeed)
  5  unavailable: cannot connect, server shutting down, deadline exceeded
)HELP";

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
  bool json = false;
  uint32_t limit = 0;
  v1::Isolation isolation = v1::SNAPSHOT;
  int retries = 1;
  std::vector<std::string> args;
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

// Parses --name=value flags anywhere before the command; returns an exit
// code (>= 0) to stop with, or -1 to go on.
int ParseFlags(int argc, char** argv, Flags* flags) {
  if (const char* env = std::getenv("MVKV_SERVER")) flags->client.server = env;
  if (const char* env = std::getenv("MVKV_TOKEN")) flags->client.token = env;
  bool only_args = false;  // after a lone "--", everything is an argument
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!only_args && arg == "--") {
      only_args = true;
      continue;
    }
    if (only_args || arg.rfind("--", 0) != 0) {
      flags->args.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    const std::size_t eq = name.find('=');
    const bool has_value = eq != std::string::npos;
    if (has_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    double seconds = 0;
    int n = 0;
    if (name == "help") {
      std::fputs(kHelp, stdout);
      return kOk;
    } else if (name == "json" && (!has_value || value == "true")) {
      flags->json = true;
    } else if (!has_value) {
      return UsageError(absl::StrCat("flag --", name, " needs =VALUE"));
    } else if (name == "server") {
      flags->client.server = value;
    } else if (name == "token") {
      flags->client.token = value;
    } else if (name == "tls_ca") {
      flags->client.tls_ca_file = value;
    } else if (name == "tls_server_name") {
      flags->client.tls_server_name = value;
    } else if (name == "timeout" && absl::SimpleAtod(value, &seconds) &&
               seconds > 0) {
      flags->client.timeout = absl::Seconds(seconds);
      flags->client.txn_timeout =
          std::max(flags->client.txn_timeout, absl::Seconds(seconds));
    } else if (name == "limit" && absl::SimpleAtoi(value, &n) && n >= 0) {
      flags->limit = n;
    } else if (name == "retries" && absl::SimpleAtoi(value, &n) && n >= 1) {
      flags->retries = n;
    } else if (name == "isolation" && value == "snapshot") {
      flags->isolation = v1::SNAPSHOT;
    } else if (name == "isolation" && value == "serializable") {
      flags->isolation = v1::SERIALIZABLE;
    } else if (name == "isolation" && value == "read_committed") {
      flags->isolation = v1::READ_COMMITTED;
    } else {
      return UsageError(absl::StrCat("unknown flag or bad value: ", arg));
    }
  }
  if (flags->args.empty()) return UsageError("no command");
  return -1;
}

int CheckArgs(const Flags& f, std::size_t min, std::size_t max) {
  const std::size_t n = f.args.size() - 1;
  if (n < min || n > max) {
    return UsageError(
        absl::StrCat("wrong number of arguments for ", f.args[0]));
  }
  return -1;
}

int RunGet(Client& c, const Flags& f) {
  auto kv = c.Get(f.args[1]);
  if (!kv.ok()) return StatusExit(kv.status());
  PrintKv(*kv, f.json);
  return kOk;
}

int RunPut(Client& c, const Flags& f) {
  auto ts = c.Put(f.args[1], f.args[2]);
  if (!ts.ok()) return StatusExit(ts.status());
  PrintLine(f.json ? absl::StrCat("{\"commit_ts\":", *ts, "}")
                   : absl::StrCat("OK commit_ts=", *ts));
  return kOk;
}

int RunDel(Client& c, const Flags& f) {
  auto r = c.Delete(f.args[1]);
  if (!r.ok()) return StatusExit(r.status());
  PrintLine(f.json
                ? absl::StrCat("{\"existed\":", r->existed ? "true" : "false",
                               ",\"commit_ts\":", r->commit_ts, "}")
                : (r->existed ? absl::StrCat("deleted commit_ts=", r->commit_ts)
                              : "not found"));
  return r->existed ? kOk : kNotFound;
}

int RunScan(Client& c, const Flags& f) {
  const std::string start = f.args.size() > 1 ? f.args[1] : "";
  const std::string end = f.args.size() > 2 ? f.args[2] : "";
  auto r = c.Scan(start, end, f.limit);
  if (!r.ok()) return StatusExit(r.status());
  PrintScan(*r, f.json);
  return kOk;
}

int RunStats(Client& c, const Flags& f) {
  auto r = c.Stats();
  if (!r.ok()) return StatusExit(r.status());
  PrintStats(*r, f.json);
  return kOk;
}

int RunHealth(Client& c, const Flags& f) {
  absl::Status s = c.Health();
  if (!s.ok()) {
    if (f.json) PrintLine("{\"status\":\"NOT_SERVING\"}");
    std::fprintf(stderr, "mvkv: %s\n", std::string(s.message()).c_str());
    return kUnavailable;
  }
  PrintLine(f.json ? "{\"status\":\"SERVING\"}" : "SERVING");
  return kOk;
}

int RunTxn(Client& c, const Flags& f) {
  std::string text;
  if (f.args.size() > 1 && f.args[1] != "-") {
    std::ifstream in(f.args[1]);
    if (!in) return UsageError(absl::StrCat("cannot read ", f.args[1]));
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
  } else {
    std::ostringstream s;
    s << std::cin.rdbuf();
    text = s.str();
  }
  auto script = ParseScript(text);
  if (!script.ok()) return UsageError(std::string(script.status().message()));
  absl::Status last;
  for (int attempt = 0; attempt < f.retries; ++attempt) {
    std::vector<std::string> out;
    last = RunScript(c, *script, f.isolation, f.json, &out);
    if (last.ok()) {
      for (const std::string& line : out) PrintLine(line);
      return kOk;
    }
    if (!absl::IsAborted(last)) break;
  }
  return StatusExit(last);
}

int Main(int argc, char** argv) {
  Flags flags;
  if (int rc = ParseFlags(argc, argv, &flags); rc >= 0) return rc;
  const std::string& cmd = flags.args[0];
  struct Command {
    const char* name;
    std::size_t min, max;
    int (*run)(Client&, const Flags&);
  };
  static const Command kCommands[] = {
      {"get", 1, 1, RunGet},      {"put", 2, 2, RunPut},
      {"del", 1, 1, RunDel},      {"scan", 0, 2, RunScan},
      {"txn", 0, 1, RunTxn},      {"stats", 0, 0, RunStats},
      {"health", 0, 0, RunHealth}};
  for (const Command& command : kCommands) {
    if (cmd != command.name) continue;
    if (int rc = CheckArgs(flags, command.min, command.max); rc >= 0) {
      return rc;
    }
    auto client = Client::Connect(flags.client);
    if (!client.ok()) return UsageError(std::string(client.status().message()));
    return command.run(**client, flags);
  }
  return UsageError(absl::StrCat("unknown command \"", cmd, "\""));
}

}  // namespace
}  // namespace mvkv::client

int main(int argc, char** argv) { return mvkv::client::Main(argc, argv); }
