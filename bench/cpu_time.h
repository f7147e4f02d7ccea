// bench/cpu_time.h — the CPU time a benchmark process has used, for rates
// per CPU-second beside wall-clock rates (they leave out time a thread was
// preempted on a shared machine). Bench-only; used by bench/ycsb and
// bench/engine.
#ifndef MVKV_BENCH_CPU_TIME_H_
#define MVKV_BENCH_CPU_TIME_H_

#include <sys/resource.h>

namespace mvkv::bench {

// User + system CPU seconds of this whole process so far (every thread:
// the engine's own pipeline and maintenance threads included).
inline double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace mvkv::bench

#endif  // MVKV_BENCH_CPU_TIME_H_
