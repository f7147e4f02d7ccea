#include "client/cli_output.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace mvkv::client {

std::string JsonString(const std::string& bytes) {
  std::string out = "\"";
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

namespace {

std::string KvJson(const Kv& kv) {
  return absl::StrCat("{\"key\":", JsonString(kv.key),
                      ",\"value\":", JsonString(kv.value),
                      ",\"commit_ts\":", kv.commit_ts, "}");
}

std::string ScanJson(const ScanResult& scan) {
  std::vector<std::string> items;
  for (const Kv& kv : scan.kvs) items.push_back(KvJson(kv));
  return absl::StrCat("{\"kvs\":[", absl::StrJoin(items, ","),
                      "],\"snapshot_ts\":", scan.snapshot_ts,
                      ",\"more\":", scan.more ? "true" : "false", "}");
}

}  // namespace

void PrintKv(const Kv& kv, bool json) {
  PrintLine(json ? KvJson(kv) : kv.value);
}

void PrintScan(const ScanResult& scan, bool json) {
  if (json) {
    PrintLine(ScanJson(scan));
    return;
  }
  for (const Kv& kv : scan.kvs) PrintLine(absl::StrCat(kv.key, "\t", kv.value));
  if (scan.more) std::fprintf(stderr, "mvkv: (more keys past --limit)\n");
}

void PrintStats(const v1::StatsResponse& stats, bool json) {
  const auto* descriptor = stats.GetDescriptor();
  const auto* reflection = stats.GetReflection();
  std::vector<std::string> items;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    const uint64_t value = reflection->GetUInt64(stats, field);
    items.push_back(json ? absl::StrCat("\"", field->name(), "\":", value)
                         : absl::StrCat(field->name(), ": ", value));
  }
  if (json) {
    PrintLine(absl::StrCat("{", absl::StrJoin(items, ","), "}"));
  } else {
    for (const std::string& item : items) PrintLine(item);
  }
}

absl::StatusOr<std::vector<ScriptOp>> ParseScript(const std::string& text) {
  std::vector<ScriptOp> script;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    std::vector<std::string> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty() || words[0][0] == '#') continue;
    ScriptOp op{words[0], {words.begin() + 1, words.end()}};
    std::size_t min = 0, max = 0;
    if (op.verb == "get" || op.verb == "del") {
      min = max = 1;
    } else if (op.verb == "put") {
      min = max = 2;
    } else if (op.verb == "scan") {
      min = 1;
      max = 3;
    } else if (op.verb == "commit" || op.verb == "rollback") {
      min = max = 0;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("txn script line ", line_no, ": unknown operation \"",
                       op.verb, "\""));
    }
    if (op.args.size() < min || op.args.size() > max) {
      return absl::InvalidArgumentError(
          absl::StrCat("txn script line ", line_no,
                       ": wrong number of arguments for ", op.verb));
    }
    uint32_t limit = 0;
    if (op.verb == "scan" && op.args.size() == 3 &&
        !absl::SimpleAtoi(op.args[2], &limit)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "txn script line ", line_no, ": scan limit is not a number"));
    }
    script.push_back(std::move(op));
  }
  return script;
}

absl::Status RunScript(Client& client, const std::vector<ScriptOp>& script,
                       v1::Isolation isolation, bool json,
                       std::vector<std::string>* out) {
  auto txn = client.Begin(isolation);
  if (!txn.ok()) return txn.status();
  std::vector<std::string> results;  // JSON items
  std::string outcome = "rolled_back";
  uint64_t commit_ts = 0;
  for (const ScriptOp& op : script) {
    if (op.verb == "get") {
      auto kv = (*txn)->Get(op.args[0]);
      if (absl::IsNotFound(kv.status())) {
        out->push_back("(not found)");
        results.push_back(
            absl::StrCat("{\"op\":\"get\",\"key\":", JsonString(op.args[0]),
                         ",\"found\":false}"));
        continue;
      }
      if (!kv.ok()) return kv.status();
      out->push_back(kv->value);
      results.push_back(
          absl::StrCat("{\"op\":\"get\",\"key\":", JsonString(op.args[0]),
                       ",\"found\":true,"
                       "\"value\":",
                       JsonString(kv->value), "}"));
    } else if (op.verb == "put") {
      if (absl::Status s = (*txn)->Put(op.args[0], op.args[1]); !s.ok())
        return s;
      results.push_back("{\"op\":\"put\"}");
    } else if (op.verb == "del") {
      if (absl::Status s = (*txn)->Delete(op.args[0]); !s.ok()) return s;
      results.push_back("{\"op\":\"del\"}");
    } else if (op.verb == "scan") {
      uint32_t limit = 0;
      if (op.args.size() == 3) (void)absl::SimpleAtoi(op.args[2], &limit);
      auto r =
          (*txn)->Scan(op.args[0], op.args.size() > 1 ? op.args[1] : "", limit);
      if (!r.ok()) return r.status();
      for (const Kv& kv : r->kvs) {
        out->push_back(absl::StrCat(kv.key, "\t", kv.value));
      }
      results.push_back(ScanJson(*r));
    } else if (op.verb == "commit") {
      auto ts = (*txn)->Commit();
      if (!ts.ok()) return ts.status();
      commit_ts = *ts;
      outcome = "committed";
      out->push_back(absl::StrCat("committed commit_ts=", commit_ts));
      results.push_back("{\"op\":\"commit\"}");
    } else {  // rollback
      if (absl::Status s = (*txn)->Rollback(); !s.ok()) return s;
      out->push_back("rolled back");
      results.push_back("{\"op\":\"rollback\"}");
    }
  }
  if (outcome != "committed" &&
      (script.empty() || script.back().verb != "rollback")) {
    out->push_back("rolled back (the script has no commit)");
  }
  if (json) {
    out->assign(1, absl::StrCat("{\"results\":[", absl::StrJoin(results, ","),
                                "],\"outcome\":\"", outcome,
                                "\",\"commit_ts\":", commit_ts, "}"));
  }
  return absl::OkStatus();
}

}  // namespace mvkv::client
