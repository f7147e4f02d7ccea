#include "client/cli_output.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mvkv::client {

nlohmann::ordered_json BytesJson(const std::string& bytes) {
  // Each byte is the code point of the same value (Latin-1 into UTF-8), so
  // any bytes make a valid JSON string that decodes back to them.
  std::string utf8;
  utf8.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      utf8 += static_cast<char>(c);
    } else {
      utf8 += static_cast<char>(0xc0 | (c >> 6));
      utf8 += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return nlohmann::ordered_json(std::move(utf8));
}

nlohmann::ordered_json KeyValueJson(const KeyValue& kv) {
  return {{"key", BytesJson(kv.key)},
          {"value", BytesJson(kv.value)},
          {"commit_ts", kv.commit_ts}};
}

nlohmann::ordered_json ScanJson(const ScanResult& scan) {
  nlohmann::ordered_json kvs = nlohmann::ordered_json::array();
  for (const KeyValue& kv : scan.kvs) kvs.push_back(KeyValueJson(kv));
  nlohmann::ordered_json out = {{"kvs", std::move(kvs)},
                        {"snapshot_ts", scan.snapshot_ts},
                        {"more", scan.more}};
  if (scan.more) out["resume_key"] = BytesJson(scan.resume_key);
  return out;
}

nlohmann::ordered_json StatsJson(const Stats& stats) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const Stats::Entry& e : stats.entries) {
    if (const uint64_t* n = std::get_if<uint64_t>(&e.value)) {
      out[e.name] = *n;
    } else {
      out[e.name] = BytesJson(std::get<std::string>(e.value));
    }
  }
  return out;
}

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

void PrintJson(const nlohmann::ordered_json& value) {
  // ensure_ascii: bytes >= 0x80 print as \u00XX (see the header).
  PrintLine(value.dump(-1, ' ', /*ensure_ascii=*/true));
}

void PrintKeyValue(const KeyValue& kv, bool json) {
  if (json) return PrintJson(KeyValueJson(kv));
  PrintLine(kv.value);
}

void PrintScan(const ScanResult& scan, bool json) {
  if (json) return PrintJson(ScanJson(scan));
  for (const KeyValue& kv : scan.kvs) {
    PrintLine(absl::StrCat(kv.key, "\t", kv.value));
  }
  if (scan.more) std::fprintf(stderr, "mvkv: (more keys past --limit)\n");
}

void PrintWatchEvent(const WatchEvent& event, bool json) {
  const bool progress = event.type == WatchEvent::Type::kProgress;
  if (json) {
    if (progress) return PrintJson({{"progress_ts", event.commit_ts}});
    nlohmann::ordered_json changes = nlohmann::ordered_json::array();
    for (const WatchChange& c : event.changes) {
      changes.push_back({{"key", BytesJson(c.key)},
                         {"value", BytesJson(c.value)},
                         {"deleted", c.deleted}});
    }
    return PrintJson({{"commit_ts", event.commit_ts}, {"changes", changes}});
  }
  if (progress) return PrintLine(absl::StrCat(event.commit_ts, "\tprogress"));
  for (const WatchChange& c : event.changes) {
    PrintLine(c.deleted ? absl::StrCat(event.commit_ts, "\tdel\t", c.key)
                        : absl::StrCat(event.commit_ts, "\tput\t", c.key,
                                       "\t", c.value));
  }
}

void PrintStats(const Stats& stats, bool json) {
  if (json) return PrintJson(StatsJson(stats));
  for (const Stats::Entry& e : stats.entries) {
    if (const uint64_t* n = std::get_if<uint64_t>(&e.value)) {
      PrintLine(absl::StrCat(e.name, ": ", *n));
    } else {
      PrintLine(absl::StrCat(e.name, ": ", std::get<std::string>(e.value)));
    }
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
                       Isolation isolation, bool json,
                       std::vector<std::string>* out) {
  auto txn = client.Begin(isolation);
  if (!txn.ok()) return txn.status();
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  std::string outcome = "rolled_back";
  uint64_t commit_ts = 0;
  for (const ScriptOp& op : script) {
    if (op.verb == "get") {
      auto kv = (*txn)->Get(op.args[0]);
      if (absl::IsNotFound(kv.status())) {
        out->push_back("(not found)");
        results.push_back(
            {{"op", "get"}, {"key", BytesJson(op.args[0])}, {"found", false}});
        continue;
      }
      if (!kv.ok()) return kv.status();
      out->push_back(kv->value);
      results.push_back({{"op", "get"},
                         {"key", BytesJson(op.args[0])},
                         {"found", true},
                         {"value", BytesJson(kv->value)}});
    } else if (op.verb == "put") {
      if (absl::Status s = (*txn)->Put(op.args[0], op.args[1]); !s.ok()) {
        return s;
      }
      results.push_back({{"op", "put"}});
    } else if (op.verb == "del") {
      if (absl::Status s = (*txn)->Delete(op.args[0]); !s.ok()) return s;
      results.push_back({{"op", "del"}});
    } else if (op.verb == "scan") {
      uint32_t limit = 0;
      if (op.args.size() == 3) (void)absl::SimpleAtoi(op.args[2], &limit);
      auto r =
          (*txn)->Scan(op.args[0], op.args.size() > 1 ? op.args[1] : "", limit);
      if (!r.ok()) return r.status();
      for (const KeyValue& kv : r->kvs) {
        out->push_back(absl::StrCat(kv.key, "\t", kv.value));
      }
      nlohmann::ordered_json scan = ScanJson(*r);
      scan["op"] = "scan";
      results.push_back(std::move(scan));
    } else if (op.verb == "commit") {
      auto ts = (*txn)->Commit();
      if (!ts.ok()) return ts.status();
      commit_ts = *ts;
      outcome = "committed";
      out->push_back(absl::StrCat("committed commit_ts=", commit_ts));
      results.push_back({{"op", "commit"}});
    } else {  // rollback
      if (absl::Status s = (*txn)->Rollback(); !s.ok()) return s;
      out->push_back("rolled back");
      results.push_back({{"op", "rollback"}});
    }
  }
  if (outcome != "committed" &&
      (script.empty() || script.back().verb != "rollback")) {
    out->push_back("rolled back (the script has no commit)");
  }
  if (json) {
    const nlohmann::ordered_json doc = {{"results", std::move(results)},
                                {"outcome", outcome},
                                {"commit_ts", commit_ts}};
    out->assign(1, doc.dump(-1, ' ', /*ensure_ascii=*/true));
  }
  return absl::OkStatus();
}

}  // namespace mvkv::client
