#include "bench/ycsb/report.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace mvkv::ycsb {

namespace {
double Us(uint64_t ns) { return ns / 1000.0; }
std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out;
}
std::string StallText(const RunResult& r) {
  std::vector<std::string> parts;
  for (const Stall& s : r.stalls) parts.push_back(s.text);
  return absl::StrJoin(parts, " ");
}
}  // namespace

void PrintSummary(std::FILE* out, const RunResult& r) {
  std::fprintf(out, "# target=%s workload=%s threads=%d%s%s\n", r.target.c_str(),
               r.workload.c_str(), r.threads, r.stalls.empty() ? "" : " stall=",
               StallText(r).c_str());
  std::fprintf(out, "[LOAD], RunTime(ms), %.0f\n", r.load_seconds * 1000);
  std::fprintf(out, "[OVERALL], RunTime(ms), %.0f\n", r.run_seconds * 1000);
  std::fprintf(out, "[OVERALL], Throughput(ops/sec), %.1f\n",
               r.run_seconds > 0 ? r.ops / r.run_seconds : 0);
  std::fprintf(out, "[HEAP], Start(bytes), %llu\n[HEAP], Peak(bytes), %llu\n"
               "[HEAP], End(bytes), %llu\n",
               (unsigned long long)r.heap_start, (unsigned long long)r.heap_peak,
               (unsigned long long)r.heap_end);
  std::fprintf(out, "[ENGINE], RetainedVersionsPeak, %llu\n"
               "[ENGINE], UnreclaimedObjectsPeak, %llu\n[ENGINE], Aborts, %llu\n",
               (unsigned long long)r.retained_versions_peak,
               (unsigned long long)r.unreclaimed_objects_peak,
               (unsigned long long)r.aborts);
  for (int t = 0; t < kOpTypes; ++t) {
    const Histogram& h = r.latency[t];
    if (h.count() == 0) continue;
    const char* n = OpName(static_cast<OpType>(t));
    std::fprintf(out, "[%s], Operations, %llu\n", n, (unsigned long long)h.count());
    std::fprintf(out, "[%s], AverageLatency(us), %.3f\n", n, h.Mean() / 1000);
    std::fprintf(out, "[%s], MinLatency(us), %.3f\n", n, Us(h.min()));
    for (double p : {50.0, 95.0, 99.0, 99.9}) {
      std::fprintf(out, "[%s], %gthPercentileLatency(us), %.3f\n", n, p,
                   Us(h.Percentile(p)));
    }
    std::fprintf(out, "[%s], MaxLatency(us), %.3f\n", n, Us(h.max()));
    std::fprintf(out, "[%s], Return=OK, %llu\n", n,
                 (unsigned long long)(h.count() - r.errors[t]));
    if (r.errors[t] > 0) {
      std::fprintf(out, "[%s], Return=ERROR, %llu\n", n,
                   (unsigned long long)r.errors[t]);
    }
  }
  for (const std::string& note : r.notes) std::fprintf(out, "# note: %s\n", note.c_str());
}

std::string JsonRow(const RunResult& r) {
  const Histogram& h = r.overall;
  uint64_t errors = 0;
  for (uint64_t e : r.errors) errors += e;
  return absl::StrFormat(
      "{\"target\": \"%s\", \"workload\": \"%s\", \"threads\": %d, "
      "\"ops\": %d, \"ops_per_s\": %.1f, \"rate\": %.1f, \"p50_us\": %.3f, "
      "\"p95_us\": %.3f, \"p99_us\": %.3f, \"p999_us\": %.3f, "
      "\"max_us\": %.3f, \"heap_start_bytes\": %d, \"heap_peak_bytes\": %d, "
      "\"heap_end_bytes\": %d, \"retained_versions_peak\": %d, "
      "\"unreclaimed_objects_peak\": %d, \"aborts\": %d, \"errors\": %d, "
      "\"run_seconds\": %.3f, \"stall\": \"%s\"}",
      JsonEscape(r.target), JsonEscape(r.workload), r.threads, r.ops,
      r.run_seconds > 0 ? r.ops / r.run_seconds : 0, r.rate,
      Us(h.Percentile(50)), Us(h.Percentile(95)), Us(h.Percentile(99)),
      Us(h.Percentile(99.9)), Us(h.max()), r.heap_start, r.heap_peak,
      r.heap_end, r.retained_versions_peak, r.unreclaimed_objects_peak,
      r.aborts, errors, r.run_seconds, JsonEscape(StallText(r)));
}

absl::Status AppendJson(const std::string& path, const RunResult& r) {
  std::string old;
  {
    std::ifstream in(path);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    old = ss.str();
  }
  while (!old.empty() && (old.back() == '\n' || old.back() == ' ')) old.pop_back();
  std::string text;
  if (old.size() >= 2 && old.front() == '[' && old.back() == ']') {
    old.pop_back();
    while (!old.empty() && (old.back() == '\n' || old.back() == ' ')) old.pop_back();
    text = old == "[" ? "[\n  " + JsonRow(r) + "\n]\n"
                      : old + ",\n  " + JsonRow(r) + "\n]\n";
  } else {
    text = "[\n  " + JsonRow(r) + "\n]\n";
  }
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

absl::Status WriteCsv(const std::string& path, const RunResult& r) {
  std::ofstream out(path, std::ios::trunc);
  out << "target,workload,t_s,ops,ops_per_s,heap_bytes,rss_bytes,"
         "reclaim_unreclaimed_objects,reclaim_unreclaimed_bytes,"
         "retained_versions,retained_bytes,versions\n";
  for (const Sample& s : r.samples) {
    out << absl::StrFormat("%s,%s,%.3f,%d,%.1f,%d,%d,%d,%d,%d,%d,%d\n",
                           r.target, r.workload, s.t_s, s.ops, s.ops_per_s,
                           s.heap_bytes, s.rss_bytes,
                           s.accounts.reclaim_unreclaimed_objects,
                           s.accounts.reclaim_unreclaimed_bytes,
                           s.accounts.retained_versions,
                           s.accounts.retained_bytes, s.accounts.versions);
  }
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

absl::Status Plot(const std::string& csv, const std::string& png,
                  const RunResult& r) {
  // The script goes to a file: no shell quoting of gnuplot's $N columns.
  const std::string script = png + ".gp";
  std::ofstream gp(script, std::ios::trunc);
  gp << "set terminal png size 900,500\n"
     << "set output '" << png << "'\n"
     << "set datafile separator ','\n"
     << "set title '" << r.target << ", workload " << r.workload << ", "
     << r.threads << " threads"
     << (r.stalls.empty() ? "" : ", stall " + StallText(r)) << "' noenhanced\n"
     << "set xlabel 'seconds'\nset ylabel 'heap (MiB)'\n"
     << "set y2label 'versions / objects'\nset y2tics\nset ytics nomirror\n"
     << "set key below\nset yrange [0:*]\nset y2range [0:*]\n";
  for (const Stall& s : r.stalls) {
    gp << absl::StrFormat(
        "set arrow from %.3f, graph 0 to %.3f, graph 1 nohead dt 2 lc rgb 'red'\n"
        "set label '%s' at %.3f, graph 0.95 tc rgb 'red' noenhanced\n",
        s.at_s, s.at_s, s.text, s.at_s);
  }
  gp << "plot '" << csv << "' every ::1 using 3:($6/1048576) with lines lw 2 "
        "title 'heap', \\\n"
        "  '' every ::1 using 3:10 axes x1y2 with lines dt 3 title "
        "'retained versions', \\\n"
        "  '' every ::1 using 3:8 axes x1y2 with lines dt 4 title "
        "'unreclaimed objects'\n";
  gp.close();
  const std::string cmd = "gnuplot '" + script + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    return absl::InternalError("gnuplot failed on " + script +
                               " (is gnuplot installed?)");
  }
  return absl::OkStatus();
}

}  // namespace mvkv::ycsb
