// bench/ycsb/report.h — a finished run written out: YCSB-style summary text,
// a JSON row, the sampled timeline as CSV, and a gnuplot PNG of it.
//
// Thread safety: plain functions over a finished RunResult.
#ifndef MVKV_BENCH_YCSB_REPORT_H_
#define MVKV_BENCH_YCSB_REPORT_H_

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "bench/ycsb/runner.h"

namespace mvkv::ycsb {

// [OVERALL], RunTime(ms) / Throughput(ops/sec), then per operation type
// Operations, AverageLatency(us), Min/50th/95th/99th/99.9th/Max, Return=...,
// then [STALL] lines: each stall's window and threads, and throughput and
// tail latency while stalls held versus outside.
void PrintSummary(std::FILE* out, const RunResult& r);

// Appends the run as one JSON object to the JSON array in `path` (created
// when missing or empty; one run per line), so several runs can share one
// file. InvalidArgument, and `path` untouched, when it holds anything else.
absl::Status AppendJson(const std::string& path, const RunResult& r);

// Header: target,workload,t_s,ops,ops_per_s,heap_bytes,rss_bytes,
// reclaim_unreclaimed_objects,reclaim_unreclaimed_bytes,retained_versions,
// retained_bytes,versions,interval_ops,p50_us,p99_us,max_us,
// interval_errors,oldest_in_flight_us,stalls_active. The account cells are
// empty when the sample has none (Stats timed out: the server was frozen),
// the latency cells when no operation completed in the interval.
absl::Status WriteCsv(const std::string& path, const RunResult& r);

// Writes `png`.gp and runs gnuplot: three panels over time — heap or server
// RSS (MiB) with retained versions and the reclaim backlog; throughput and
// errors per 100 ms; p50/p99/max latency per 100 ms and the age of the
// oldest unanswered operation (log scale) — each stall's window shaded.
absl::Status Plot(const std::string& csv, const std::string& png,
                  const RunResult& r);

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_REPORT_H_
