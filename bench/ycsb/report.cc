#include "bench/ycsb/report.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace mvkv::ycsb {

namespace {
double Us(uint64_t ns) { return ns / 1000.0; }
std::string StallText(const RunResult& r) {
  std::vector<std::string> parts;
  for (const Stall& s : r.stalls) parts.push_back(s.text);
  return absl::StrJoin(parts, " ");
}
// "5.001-15.003" per stall that held ("-" when it never did), and the
// threads each froze or parked.
std::string Windows(const RunResult& r) {
  return absl::StrJoin(r.events, "; ", [](std::string* out, const StallEvent& e) {
    if (e.start_s < 0) return absl::StrAppend(out, "-");
    absl::StrAppend(out, absl::StrFormat("%.3f-%.3f", e.start_s, e.end_s));
  });
}
std::string StallThreads(const RunResult& r) {
  return absl::StrJoin(r.events, "; ", [](std::string* out, const StallEvent& e) {
    absl::StrAppend(out, e.threads.empty() ? "-" : e.threads);
  });
}
double StallOpsPerS(const RunResult& r) {
  return r.stall_seconds > 0 ? r.during_stall.count() / r.stall_seconds : 0;
}
double OutsideOpsPerS(const RunResult& r) {
  const double s = r.run_seconds - r.stall_seconds;
  return s > 0 ? (r.ops - r.during_stall.count()) / s : 0;
}
// An empty CSV cell for a value the sample does not have.
std::string Cell(bool has, uint64_t v) { return has ? absl::StrCat(v) : ""; }
std::string UsCell(bool has, uint64_t ns) {
  return has ? absl::StrFormat("%.1f", ns / 1000.0) : "";
}

void PrintStalls(std::FILE* out, const RunResult& r) {
  for (const StallEvent& e : r.events) {
    std::fprintf(out, "[STALL], %s, %s, %s\n", e.text.c_str(),
                 e.start_s < 0 ? "did not start"
                               : absl::StrFormat("%.3f-%.3f s", e.start_s, e.end_s).c_str(),
                 e.threads.empty() ? "-" : e.threads.c_str());
  }
  if (r.stall_seconds <= 0) return;
  const Histogram& h = r.during_stall;
  std::fprintf(out, "[STALL], Seconds, %.3f\n[STALL], Throughput(ops/sec), %.1f\n"
               "[STALL], ThroughputOutside(ops/sec), %.1f\n",
               r.stall_seconds, StallOpsPerS(r), OutsideOpsPerS(r));
  std::fprintf(out, "[STALL], Operations, %llu\n[STALL], 99thPercentileLatency(us), %.3f\n"
               "[STALL], MaxLatency(us), %.3f\n",
               (unsigned long long)h.count(), Us(h.Percentile(99)), Us(h.max()));
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
  PrintStalls(out, r);
  for (const std::string& note : r.notes) std::fprintf(out, "# note: %s\n", note.c_str());
}

namespace {
// One run as a JSON object (the --json row; bench/ycsb/README.md lists the
// fields).
nlohmann::ordered_json JsonRow(const RunResult& r) {
  const Histogram& h = r.overall;
  uint64_t errors = 0;
  for (uint64_t e : r.errors) errors += e;
  return {
      {"target", r.target},
      {"workload", r.workload},
      {"threads", r.threads},
      {"ops", r.ops},
      {"ops_per_s", r.run_seconds > 0 ? r.ops / r.run_seconds : 0},
      {"rate", r.rate},
      {"p50_us", Us(h.Percentile(50))},
      {"p95_us", Us(h.Percentile(95))},
      {"p99_us", Us(h.Percentile(99))},
      {"p999_us", Us(h.Percentile(99.9))},
      {"max_us", Us(h.max())},
      {"heap_start_bytes", r.heap_start},
      {"heap_peak_bytes", r.heap_peak},
      {"heap_end_bytes", r.heap_end},
      {"retained_versions_peak", r.retained_versions_peak},
      {"unreclaimed_objects_peak", r.unreclaimed_objects_peak},
      {"aborts", r.aborts},
      {"errors", errors},
      {"run_seconds", r.run_seconds},
      {"run_cpu_seconds", r.run_cpu_seconds},
      {"ops_per_cpu_s", r.run_cpu_seconds > 0 ? r.ops / r.run_cpu_seconds : 0},
      {"stall", StallText(r)},
      {"stall_windows", Windows(r)},
      {"stall_threads", StallThreads(r)},
      {"stall_seconds", r.stall_seconds},
      {"stall_ops_per_s", StallOpsPerS(r)},
      {"outside_stall_ops_per_s", OutsideOpsPerS(r)},
      {"stall_p99_us", Us(r.during_stall.Percentile(99))},
      {"stall_max_us", Us(r.during_stall.max())},
  };
}
}  // namespace

absl::Status AppendJson(const std::string& path, const RunResult& r) {
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  {
    std::ifstream in(path);
    std::stringstream text;
    if (in) text << in.rdbuf();
    if (text.str().find_first_not_of(" \t\r\n") != std::string::npos) {
      runs = nlohmann::ordered_json::parse(text.str(), nullptr,
                                           /*allow_exceptions=*/false);
      if (!runs.is_array()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--json=", path,
            " holds something other than a JSON array of runs; not "
            "overwriting it"));
      }
    }
  }
  runs.push_back(JsonRow(r));
  // One run per line, so the file also reads (and diffs) line by line.
  std::ofstream out(path, std::ios::trunc);
  out << "[\n";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    out << "  " << runs[i].dump() << (i + 1 < runs.size() ? ",\n" : "\n");
  }
  out << "]\n";
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

absl::Status WriteCsv(const std::string& path, const RunResult& r) {
  std::ofstream out(path, std::ios::trunc);
  out << "target,workload,t_s,ops,ops_per_s,heap_bytes,rss_bytes,"
         "reclaim_unreclaimed_objects,reclaim_unreclaimed_bytes,"
         "retained_versions,retained_bytes,versions,interval_ops,p50_us,"
         "p99_us,max_us,interval_errors,oldest_in_flight_us,stalls_active\n";
  for (const Sample& s : r.samples) {
    const bool a = s.has_accounts, l = s.interval_ops > 0;
    out << absl::StrFormat("%s,%s,%.3f,%d,%.1f,%d,%d,%s,%s,%s,%s,%s,%d,%s,%s,%s,%d,%.1f,%d\n",
                           r.target, r.workload, s.t_s, s.ops, s.ops_per_s,
                           s.heap_bytes, s.rss_bytes,
                           Cell(a, s.accounts.reclaim_unreclaimed_objects),
                           Cell(a, s.accounts.reclaim_unreclaimed_bytes),
                           Cell(a, s.accounts.retained_versions),
                           Cell(a, s.accounts.retained_bytes), Cell(a, s.accounts.versions),
                           s.interval_ops, UsCell(l, s.p50_ns), UsCell(l, s.p99_ns),
                           UsCell(l, s.max_ns), s.interval_errors,
                           s.oldest_in_flight_ns / 1000.0, s.stalls_active);
  }
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

absl::Status Plot(const std::string& csv, const std::string& png,
                  const RunResult& r) {
  // The script goes to a file: no shell quoting of gnuplot's $N columns.
  const std::string script = png + ".gp";
  std::ofstream gp(script, std::ios::trunc);
  gp << "set terminal png size 900,900\n"
     << "set output '" << png << "'\n"
     << "set datafile separator ','\n"
     << "set multiplot layout 3,1 title '" << r.target << ", workload " << r.workload
     << ", " << r.threads << " threads"
     << (r.stalls.empty() ? "" : ", stall " + StallText(r)) << "' noenhanced\n"
     << "set key below\nset xlabel 'seconds'\nset lmargin 12\nset rmargin 12\n"
     << absl::StrFormat("set xrange [0:%.3f]\n",
                        r.samples.empty() ? 1.0 : std::max(0.1, r.samples.back().t_s));
  // Each stall's window, shaded on every panel.
  int object = 1;
  for (const StallEvent& e : r.events) {
    if (e.start_s < 0) continue;
    gp << absl::StrFormat(
        "set object %d rect from %.3f, graph 0 to %.3f, graph 1 fc rgb '#ffd0d0' "
        "fs solid 0.6 noborder behind\n"
        "set label %d '%s' at %.3f, graph 0.93 tc rgb 'red' noenhanced\n",
        object, e.start_s, e.end_s >= 0 ? e.end_s : r.run_seconds, object, e.text,
        e.start_s);
    ++object;
  }
  gp << "set ylabel '" << (r.in_process ? "heap" : "server RSS") << " (MiB)'\nset y2label 'versions / objects'\n"
        "set y2tics\nset ytics nomirror\nset yrange [0:*]\nset y2range [0:*]\n"
        "plot '" << csv << "' every ::1 using 3:($6/1048576) with lines lw 2 title "
        "'" << (r.in_process ? "heap" : "server RSS") << "', \\\n"
        "  '' every ::1 using 3:10 axes x1y2 with lines dt 3 title 'retained versions', \\\n"
        "  '' every ::1 using 3:8 axes x1y2 with lines dt 4 title 'unreclaimed objects'\n"
        "unset y2tics\nunset y2label\nset ytics mirror\n"
        "set ylabel 'ops/s (per 100 ms)'\n"
        "plot '' every ::1 using 3:5 with lines lw 2 title 'throughput', \\\n"
        "  '' every ::1 using 3:($17*10) with impulses title 'errors/s'\n"
        "set ylabel 'latency (ms)'\nset logscale y\nset yrange [*:*]\n"
        // NaN where nothing completed: the line breaks there. (column(N),
        // not $N: gnuplot drops a row whose $N cell is empty and joins the
        // line across it.)
        "plot '' every ::1 using 3:(column(13) > 0 ? column(14)/1000 : NaN) with lines title 'p50', \\\n"
        "  '' every ::1 using 3:(column(13) > 0 ? column(15)/1000 : NaN) with lines lw 2 title 'p99', \\\n"
        "  '' every ::1 using 3:(column(13) > 0 ? column(16)/1000 : NaN) with lines dt 2 title 'max', \\\n"
        "  '' every ::1 using 3:(column(18) > 0 ? column(18)/1000 : NaN) with lines dt 3 "
        "title 'oldest unanswered op'\n"
        "unset multiplot\n";
  gp.close();
  const std::string cmd = "gnuplot '" + script + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    return absl::InternalError("gnuplot failed on " + script +
                               " (is gnuplot installed?)");
  }
  return absl::OkStatus();
}

}  // namespace mvkv::ycsb
