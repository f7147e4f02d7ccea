// Output formatting and transaction scripts of the mvkv CLI (client/mvkv.cc).
// Human-readable by default; with json, every command prints one JSON value
// on one line. Keys and values are bytes: JSON strings escape control
// characters and bytes >= 0x80 as \u00XX.
#ifndef MVKV_CLIENT_CLI_OUTPUT_H_
#define MVKV_CLIENT_CLI_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/client.h"

namespace mvkv::client {

std::string JsonString(const std::string& bytes);
void PrintLine(const std::string& line);
void PrintKv(const Kv& kv, bool json);
void PrintScan(const ScanResult& scan, bool json);
void PrintStats(const v1::StatsResponse& stats, bool json);

// One line of a txn script: get KEY | put KEY VALUE | del KEY |
// scan START [END [LIMIT]] | commit | rollback.
struct ScriptOp {
  std::string verb;
  std::vector<std::string> args;
};

// InvalidArgument (with the line number) for an unknown verb or a wrong
// number of arguments.
absl::StatusOr<std::vector<ScriptOp>> ParseScript(const std::string& text);

// Runs `script` in one interactive transaction; appends what to print to
// `out` (lines, or one JSON object). A script without commit/rollback is
// rolled back. Returns the first error (ABORTED on conflict).
absl::Status RunScript(Client& client, const std::vector<ScriptOp>& script,
                       v1::Isolation isolation, bool json,
                       std::vector<std::string>* out);

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_CLI_OUTPUT_H_
