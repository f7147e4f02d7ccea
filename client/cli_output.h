// Output formatting and transaction scripts of the mvkv CLI (client/mvkv.cc).
// Human-readable by default; with json, every command prints one JSON value
// on one line (nlohmann::ordered_json). Keys and values are bytes: in JSON each byte
// is one character, so bytes >= 0x80 print as \u0080..\u00ff and control
// characters as JSON escapes; decoding the string to code points gives the
// bytes back.
#ifndef MVKV_CLIENT_CLI_OUTPUT_H_
#define MVKV_CLIENT_CLI_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/client.h"
#include "nlohmann/json.hpp"

namespace mvkv::client {

// `bytes` as a JSON string, one character per byte (see above).
nlohmann::ordered_json BytesJson(const std::string& bytes);
nlohmann::ordered_json KeyValueJson(const KeyValue& kv);
nlohmann::ordered_json ScanJson(const ScanResult& scan);
nlohmann::ordered_json StatsJson(const Stats& stats);

void PrintLine(const std::string& line);
void PrintJson(const nlohmann::ordered_json& value);
void PrintKeyValue(const KeyValue& kv, bool json);
void PrintScan(const ScanResult& scan, bool json);
void PrintStats(const Stats& stats, bool json);
// One watch event: text, a line per change ("TS\tput\tKEY\tVALUE",
// "TS\tdel\tKEY") or "TS\tprogress"; JSON, one object per line
// ({"commit_ts", "changes": [{"key", "value", "deleted"}]} or
// {"progress_ts"}).
void PrintWatchEvent(const WatchEvent& event, bool json);

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
                       Isolation isolation, bool json,
                       std::vector<std::string>* out);

}  // namespace mvkv::client

#endif  // MVKV_CLIENT_CLI_OUTPUT_H_
