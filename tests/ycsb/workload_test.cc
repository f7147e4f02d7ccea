// Workloads: every preset produces its specified mix; E's scan lengths are
// uniform in 1..100; D reads only inserted keys; YCSB property files parse,
// and bad ones fail with the line named; records are printable and distinct.
#include "bench/ycsb/workload.h"

#include <cstdio>
#include <fstream>
#include <set>
#include <string>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace mvkv::ycsb {
namespace {

constexpr int kOps = 100000;

struct Mix {
  const char* name;
  double p[kOpTypes];  // read, update, insert, scan, rmw
};

TEST(WorkloadTest, PresetsProduceTheirMixes) {
  const Mix mixes[] = {{"a", {0.5, 0.5, 0, 0, 0}},   {"b", {0.95, 0.05, 0, 0, 0}},
                       {"c", {1, 0, 0, 0, 0}},       {"d", {0.95, 0, 0.05, 0, 0}},
                       {"e", {0, 0, 0.05, 0.95, 0}}, {"f", {0.5, 0, 0, 0, 0.5}}};
  for (const Mix& m : mixes) {
    absl::StatusOr<WorkloadSpec> spec = PresetWorkload(m.name);
    ASSERT_TRUE(spec.ok()) << spec.status();
    spec->record_count = 10000;
    spec->operation_count = kOps;
    InsertCounter inserts(spec->record_count);
    OpGenerator gen(*spec, &inserts, 5);
    int counts[kOpTypes] = {};
    for (int i = 0; i < kOps; ++i) {
      const Op op = gen.Next();
      ++counts[static_cast<int>(op.type)];
      if (op.type == OpType::kInsert) inserts.Acknowledge(op.keynum);
      else ASSERT_LE(op.keynum, inserts.LastValue()) << m.name;
    }
    for (int t = 0; t < kOpTypes; ++t) {
      EXPECT_NEAR(counts[t] / double(kOps), m.p[t], 0.01) << m.name << " " << t;
      if (m.p[t] == 0) {
        EXPECT_EQ(counts[t], 0) << m.name << " " << t;
      }
    }
  }
}

TEST(WorkloadTest, PresetsCarryYcsbParameters) {
  absl::StatusOr<WorkloadSpec> d = PresetWorkload("D");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->distribution, Distribution::kLatest);
  EXPECT_EQ(d->field_count, 10);
  EXPECT_EQ(d->field_length, 100);
  EXPECT_FALSE(d->ordered_inserts);
  absl::StatusOr<WorkloadSpec> e = PresetWorkload("e");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->max_scan_length, 100);
  EXPECT_EQ(e->distribution, Distribution::kZipfian);
  EXPECT_FALSE(PresetWorkload("g").ok());
}

TEST(WorkloadTest, ScanLengthsAreUniformOneToMax) {
  absl::StatusOr<WorkloadSpec> e = PresetWorkload("e");
  ASSERT_TRUE(e.ok());
  InsertCounter inserts(e->record_count);
  OpGenerator gen(*e, &inserts, 9);
  int n = 0, lo = 1000, hi = 0;
  double sum = 0;
  for (int i = 0; i < kOps; ++i) {
    const Op op = gen.Next();
    if (op.type != OpType::kScan) continue;
    ++n;
    sum += op.scan_length;
    lo = std::min(lo, op.scan_length);
    hi = std::max(hi, op.scan_length);
  }
  EXPECT_EQ(lo, 1);
  EXPECT_EQ(hi, 100);
  EXPECT_NEAR(sum / n, 50.5, 0.5);
}

TEST(WorkloadTest, RecordsHaveTheConfiguredShapeAndModifyKeepsIt) {
  WorkloadSpec spec;
  Random rng(1);
  const std::string r = BuildRecord(spec, rng);
  EXPECT_EQ(r.size(), 10u * (100 + 8));  // "fieldN=" + 100 bytes + separator
  const std::string m = ModifyRecord(r, spec, rng);
  EXPECT_EQ(m.size(), r.size());
  EXPECT_NE(m, r);
  EXPECT_EQ(KeyName(5, true), "user5");
  EXPECT_EQ(KeyName(5, false), "user" + std::to_string(FnvHash64(5)));
}

// Field bytes are slices of a shared pool (workload.cc): records must still
// be printable and distinct, so no target can store them deduplicated.
TEST(WorkloadTest, RecordsArePrintableAndDistinct) {
  WorkloadSpec spec;
  Random rng(7);
  std::set<std::string> records, fields;
  for (int i = 0; i < 1000; ++i) {
    const std::string r = BuildRecord(spec, rng);
    records.insert(r);
    for (absl::string_view f : absl::StrSplit(r, '\x1f', absl::SkipEmpty())) {
      const absl::string_view bytes = f.substr(f.find('=') + 1);
      ASSERT_EQ(bytes.size(), 100u);
      for (char c : bytes) ASSERT_TRUE(c > ' ' && c <= '~') << static_cast<int>(c);
      fields.insert(std::string(bytes));
    }
  }
  EXPECT_EQ(records.size(), 1000u);
  // 10,000 slices of a 1 MiB pool: ~48 equal pairs expected (birthday
  // bound n^2 / 2N); a generator that reused slices would repeat far more.
  EXPECT_GT(fields.size(), 9800u);
  // A field longer than the pool's largest slice is assembled from several.
  spec.field_count = 1;
  spec.field_length = 3 << 20;
  EXPECT_EQ(BuildRecord(spec, rng).size(), (3u << 20) + 8);
}

TEST(WorkloadTest, ParsesYcsbPropertyFiles) {
  absl::StatusOr<WorkloadSpec> w = ParseWorkloadProperties(
      "# a comment\nworkload=site.ycsb.workloads.CoreWorkload\n"
      "recordcount = 5000\noperationcount=20000\nreadproportion=0.7\n"
      "updateproportion=0.1\nscanproportion=0.1\ninsertproportion=0.05\n"
      "readmodifywriteproportion=0.05\nrequestdistribution=uniform\n"
      "maxscanlength=20\nfieldcount=4\nfieldlength=16\ninsertorder=ordered\n",
      "mine");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->record_count, 5000u);
  EXPECT_EQ(w->operation_count, 20000u);
  EXPECT_EQ(w->field_count, 4);
  EXPECT_EQ(w->field_length, 16);
  EXPECT_EQ(w->max_scan_length, 20);
  EXPECT_DOUBLE_EQ(w->rmw, 0.05);
  EXPECT_TRUE(w->ordered_inserts);
  EXPECT_EQ(w->distribution, Distribution::kUniform);
}

TEST(WorkloadTest, BadPropertyFilesFailNamingTheLine) {
  auto err = [](const std::string& text) {
    absl::StatusOr<WorkloadSpec> w = ParseWorkloadProperties(text, "bad.txt");
    EXPECT_FALSE(w.ok()) << text;
    return std::string(w.status().message());
  };
  EXPECT_NE(err("readproportion=1\nreadproprtion=0.5\n").find("bad.txt:2: unknown property readproprtion"),
            std::string::npos);
  EXPECT_NE(err("requestdistribution=pareto\n").find("bad.txt:1: bad value"), std::string::npos);
  EXPECT_NE(err("readproportion=1.5\n").find("bad value"), std::string::npos);
  EXPECT_NE(err("no equals sign\n").find("expected key=value"), std::string::npos);
  EXPECT_NE(err("readproportion=0\nupdateproportion=0\n").find("sum to zero"),
            std::string::npos);
  EXPECT_NE(err("recordcount=lots\n").find("recordcount"), std::string::npos);
}

TEST(WorkloadTest, LoadWorkloadReadsFilesAndRejectsMissingOnes) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/wl.properties";
  std::ofstream(path) << "readproportion=1\nrequestdistribution=zipfian\n";
  absl::StatusOr<WorkloadSpec> w = LoadWorkload(path);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->name, "wl.properties");
  EXPECT_FALSE(LoadWorkload("/nonexistent/workload").ok());
}

}  // namespace
}  // namespace mvkv::ycsb
