// bench/ycsb/workload.h — a YCSB workload: the operation mix, the request
// distribution and the record shape, from a preset (a–f, YCSB's core
// workloads) or a file in YCSB's property format (key=value lines, '#'
// comments). Recognised properties: recordcount, operationcount, fieldcount,
// fieldlength, readproportion, updateproportion, insertproportion,
// scanproportion, readmodifywriteproportion, requestdistribution
// (uniform|zipfian|latest), maxscanlength, minscanlength,
// scanlengthdistribution (uniform|zipfian), insertorder (hashed|ordered),
// workload/readallfields/writeallfields (accepted, ignored). Anything else is
// an error, so a typo does not silently run the default.
//
// Thread safety: WorkloadSpec is a value; OpGenerator is per-thread.
#ifndef MVKV_BENCH_YCSB_WORKLOAD_H_
#define MVKV_BENCH_YCSB_WORKLOAD_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bench/ycsb/generators.h"

namespace mvkv::ycsb {

enum class OpType { kRead = 0, kUpdate, kInsert, kScan, kReadModifyWrite };
inline constexpr int kOpTypes = 5;
const char* OpName(OpType op);  // "READ", "UPDATE", ... as YCSB prints them

enum class Distribution { kUniform, kZipfian, kLatest };

struct WorkloadSpec {
  std::string name = "custom";
  uint64_t record_count = 1000;
  uint64_t operation_count = 1000;
  int field_count = 10;
  int field_length = 100;
  double read = 0.95, update = 0.05, insert = 0, scan = 0, rmw = 0;
  Distribution distribution = Distribution::kUniform;
  int min_scan_length = 1, max_scan_length = 1000;
  bool scan_length_zipfian = false;
  bool ordered_inserts = false;
};

// "a".."f" (case-insensitive): YCSB's core workloads. NotFound otherwise.
absl::StatusOr<WorkloadSpec> PresetWorkload(const std::string& name);
// Parses YCSB property text; starts from YCSB's CoreWorkload defaults.
// InvalidArgument naming the line for unknown keys, bad numbers, bad
// distributions, or proportions that sum to zero.
absl::StatusOr<WorkloadSpec> ParseWorkloadProperties(const std::string& text,
                                                     const std::string& name);
// A preset name or a path to a property file.
absl::StatusOr<WorkloadSpec> LoadWorkload(const std::string& name_or_path);

// "user" followed by the decimal key number, hashed unless ordered.
std::string KeyName(uint64_t keynum, bool ordered);
// One stored value: field_count fields of field_length random printable
// bytes, serialized as "field0=...\x1f" ... (one value per record).
std::string BuildRecord(const WorkloadSpec& spec, Random& rng);
// Replaces field `field` of a record built by BuildRecord (read-modify-write).
std::string ModifyRecord(const std::string& record, const WorkloadSpec& spec,
                         Random& rng);

struct Op {
  OpType type;
  uint64_t keynum;      // existing key (read/update/scan/rmw) or new (insert)
  int scan_length = 0;  // kScan only
};

// Draws operations for one thread. Inserts take a key number from the shared
// counter; the caller must Acknowledge it once the insert finished.
class OpGenerator {
 public:
  OpGenerator(const WorkloadSpec& spec, InsertCounter* inserts, uint64_t seed);
  Op Next();
  Random& rng() { return rng_; }

 private:
  uint64_t NextExistingKey();
  const WorkloadSpec spec_;
  InsertCounter* inserts_;
  Random rng_;
  double cumulative_[kOpTypes];
  std::unique_ptr<UniformGenerator> uniform_;
  std::unique_ptr<ScrambledZipfianGenerator> zipf_;
  std::unique_ptr<SkewedLatestGenerator> latest_;
  std::unique_ptr<UniformGenerator> scan_uniform_;
  std::unique_ptr<ZipfianGenerator> scan_zipf_;
};

}  // namespace mvkv::ycsb

#endif  // MVKV_BENCH_YCSB_WORKLOAD_H_
