#include "bench/ycsb/workload.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mvkv::ycsb {

namespace {
absl::string_view AV(const std::string& s) { return {s.data(), s.size()}; }
constexpr char kFieldSep = '\x1f';
}  // namespace

const char* OpName(OpType op) {
  static const char* kNames[] = {"READ", "UPDATE", "INSERT", "SCAN",
                                 "READ-MODIFY-WRITE"};
  return kNames[static_cast<int>(op)];
}

absl::StatusOr<WorkloadSpec> PresetWorkload(const std::string& name) {
  static const char* kPresets[] = {
      "readproportion=0.5\nupdateproportion=0.5\nrequestdistribution=zipfian",
      "readproportion=0.95\nupdateproportion=0.05\n"
      "requestdistribution=zipfian",
      "readproportion=1\nupdateproportion=0\nrequestdistribution=zipfian",
      "readproportion=0.95\nupdateproportion=0\ninsertproportion=0.05\n"
      "requestdistribution=latest",
      "readproportion=0\nupdateproportion=0\nscanproportion=0.95\n"
      "insertproportion=0.05\nrequestdistribution=zipfian\n"
      "maxscanlength=100\nscanlengthdistribution=uniform",
      "readproportion=0.5\nupdateproportion=0\n"
      "readmodifywriteproportion=0.5\nrequestdistribution=zipfian",
  };
  const std::string n = absl::AsciiStrToLower(AV(name));
  if (n.size() != 1 || n[0] < 'a' || n[0] > 'f') {
    return absl::NotFoundError(absl::StrCat("no preset workload ", AV(name)));
  }
  return ParseWorkloadProperties(
      absl::StrCat("recordcount=1000\noperationcount=1000\n",
                   kPresets[n[0] - 'a']),
      n);
}

namespace {
absl::Status Apply(WorkloadSpec& w, const std::string& key,
                   const std::string& value) {
  auto as_u64 = [&](uint64_t* out) {
    return absl::SimpleAtoi(AV(value), out);
  };
  auto as_int = [&](int* out) {
    return absl::SimpleAtoi(AV(value), out) && *out >= 0;
  };
  auto as_prop = [&](double* out) {
    return absl::SimpleAtod(AV(value), out) && *out >= 0 && *out <= 1;
  };
  bool ok = true;
  if (key == "recordcount") ok = as_u64(&w.record_count) && w.record_count > 0;
  else if (key == "operationcount") ok = as_u64(&w.operation_count);
  else if (key == "fieldcount") ok = as_int(&w.field_count) && w.field_count > 0;
  else if (key == "fieldlength") ok = as_int(&w.field_length);
  else if (key == "readproportion") ok = as_prop(&w.read);
  else if (key == "updateproportion") ok = as_prop(&w.update);
  else if (key == "insertproportion") ok = as_prop(&w.insert);
  else if (key == "scanproportion") ok = as_prop(&w.scan);
  else if (key == "readmodifywriteproportion") ok = as_prop(&w.rmw);
  else if (key == "maxscanlength") ok = as_int(&w.max_scan_length) && w.max_scan_length > 0;
  else if (key == "minscanlength") ok = as_int(&w.min_scan_length) && w.min_scan_length > 0;
  else if (key == "requestdistribution") {
    if (value == "uniform") w.distribution = Distribution::kUniform;
    else if (value == "zipfian") w.distribution = Distribution::kZipfian;
    else if (value == "latest") w.distribution = Distribution::kLatest;
    else ok = false;
  } else if (key == "scanlengthdistribution") {
    ok = value == "uniform" || value == "zipfian";
    w.scan_length_zipfian = value == "zipfian";
  } else if (key == "insertorder") {
    ok = value == "hashed" || value == "ordered";
    w.ordered_inserts = value == "ordered";
  } else if (key == "workload" || key == "readallfields" ||
             key == "writeallfields") {
    // YCSB's class name and field-selection switches: records are one value.
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown property ", AV(key)));
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad value for ", AV(key), ": '", AV(value), "'"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::StatusOr<WorkloadSpec> ParseWorkloadProperties(const std::string& text,
                                                     const std::string& name) {
  WorkloadSpec w;
  w.name = name;
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(AV(text), '\n')) {
    ++line_no;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ":", line_no, ": expected key=value, got '", line, "'"));
    }
    const std::string key(absl::StripAsciiWhitespace(line.substr(0, eq)));
    const std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
    absl::Status s = Apply(w, key, value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", line_no, ": ", s.message()));
    }
  }
  if (w.read + w.update + w.insert + w.scan + w.rmw <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": operation proportions sum to zero"));
  }
  if (w.min_scan_length > w.max_scan_length) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": minscanlength > maxscanlength"));
  }
  return w;
}

absl::StatusOr<WorkloadSpec> LoadWorkload(const std::string& name_or_path) {
  if (name_or_path.size() == 1) return PresetWorkload(name_or_path);
  std::ifstream in(name_or_path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "workload '", AV(name_or_path), "' is neither a-f nor a readable file"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string base = name_or_path.substr(name_or_path.find_last_of('/') + 1);
  return ParseWorkloadProperties(ss.str(), base);
}

std::string KeyName(uint64_t keynum, bool ordered) {
  return absl::StrCat("user", ordered ? keynum : FnvHash64(keynum));
}

namespace {
// Field bytes are slices of one pool of random printable bytes, generated
// once per process from a fixed seed: a field costs one draw and one copy,
// not one draw per 8 bytes and a push_back per byte (which was a third of
// YCSB-A's CPU, load generator cost charged to every target alike). Each
// slice starts at an independently drawn offset into 1 MiB: two given
// fields are equal with probability ~1e-6 (in 10,000 fields ~50 pairs are),
// two 10-field records practically never. The pool fits in the L2/L3 cache.
constexpr std::size_t kPoolBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxSlice = kPoolBytes / 2;

const std::string& ValuePool() {
  static const std::string* const pool = [] {
    auto* p = new std::string(kPoolBytes, ' ');
    Random rng(0x5eedf00d);
    for (std::size_t i = 0; i < kPoolBytes; i += 8) {
      uint64_t bits = rng.Next();
      for (std::size_t j = 0; j < 8; ++j, bits >>= 8) {
        (*p)[i + j] = static_cast<char>(' ' + 1 + (bits & 0xff) % 94);
      }
    }
    return p;
  }();
  return *pool;
}

void AppendField(std::string& out, int length, Random& rng) {
  const std::string& pool = ValuePool();
  // Bound: length / kMaxSlice + 1 slices (fieldlength is user-set).
  for (std::size_t left = static_cast<std::size_t>(std::max(length, 0)); left > 0;) {
    const std::size_t n = std::min(left, kMaxSlice);
    out.append(pool, rng.Uniform(kPoolBytes - n + 1), n);
    left -= n;
  }
}
}  // namespace

std::string BuildRecord(const WorkloadSpec& spec, Random& rng) {
  std::string out;
  out.reserve(spec.field_count * (spec.field_length + 8));
  for (int f = 0; f < spec.field_count; ++f) {
    absl::StrAppend(&out, "field", f, "=");
    AppendField(out, spec.field_length, rng);
    out.push_back(kFieldSep);
  }
  return out;
}

std::string ModifyRecord(const std::string& record, const WorkloadSpec& spec,
                         Random& rng) {
  // Replace one field; a record that does not parse is rebuilt whole.
  const int field = static_cast<int>(rng.Uniform(spec.field_count));
  std::vector<std::string> fields =
      absl::StrSplit(AV(record), kFieldSep, absl::SkipEmpty());
  if (static_cast<int>(fields.size()) != spec.field_count) {
    return BuildRecord(spec, rng);
  }
  std::string value;
  AppendField(value, spec.field_length, rng);
  fields[field] = absl::StrCat("field", field, "=", AV(value));
  std::string out;
  for (const std::string& f : fields) {
    out += f;
    out.push_back(kFieldSep);
  }
  return out;
}

OpGenerator::OpGenerator(const WorkloadSpec& spec, InsertCounter* inserts,
                         uint64_t seed)
    : spec_(spec), inserts_(inserts), rng_(seed) {
  const double total = spec.read + spec.update + spec.insert + spec.scan + spec.rmw;
  const double p[kOpTypes] = {spec.read, spec.update, spec.insert, spec.scan,
                              spec.rmw};
  double acc = 0;
  for (int i = 0; i < kOpTypes; ++i) cumulative_[i] = (acc += p[i] / total);
  // Rounding must not leak draws into a trailing zero-proportion type.
  for (int i = kOpTypes - 1; i >= 0 && cumulative_[i] >= acc - 1e-9; --i) {
    cumulative_[i] = 1.0;
    if (p[i] > 0) break;
  }
  const uint64_t n = spec.record_count;
  switch (spec.distribution) {
    case Distribution::kUniform:
      uniform_ = std::make_unique<UniformGenerator>(0, n - 1);
      break;
    case Distribution::kZipfian: {
      const uint64_t expected_new = static_cast<uint64_t>(
          spec.operation_count * spec.insert * 2.0);
      zipf_ = std::make_unique<ScrambledZipfianGenerator>(0, n + expected_new);
      break;
    }
    case Distribution::kLatest:
      latest_ = std::make_unique<SkewedLatestGenerator>(inserts_);
      break;
  }
  if (spec.scan_length_zipfian) {
    scan_zipf_ = std::make_unique<ZipfianGenerator>(spec.min_scan_length,
                                                    spec.max_scan_length);
  } else {
    scan_uniform_ = std::make_unique<UniformGenerator>(spec.min_scan_length,
                                                       spec.max_scan_length);
  }
}

uint64_t OpGenerator::NextExistingKey() {
  const uint64_t last = inserts_->LastValue();
  for (;;) {
    uint64_t k;
    if (uniform_) k = uniform_->Next(rng_);
    else if (zipf_) k = zipf_->Next(rng_);
    else k = latest_->Next(rng_);
    if (k <= last) return k;
  }
}

Op OpGenerator::Next() {
  const double u = rng_.NextDouble();
  int t = 0;
  while (t < kOpTypes - 1 && u >= cumulative_[t]) ++t;
  Op op{static_cast<OpType>(t), 0, 0};
  if (op.type == OpType::kInsert) {
    op.keynum = inserts_->Next();
  } else {
    op.keynum = NextExistingKey();
  }
  if (op.type == OpType::kScan) {
    op.scan_length = static_cast<int>(scan_zipf_ ? scan_zipf_->Next(rng_)
                                                 : scan_uniform_->Next(rng_));
  }
  return op;
}

}  // namespace mvkv::ycsb
