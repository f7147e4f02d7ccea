// Runs the fuzz target (kv_fuzz_target.cc) under the normal toolchain on
// hand-written seeds and a few thousand pseudo-random inputs, so the target
// keeps building and its checks keep holding between clang fuzzing runs
// (tools/run_fuzz.sh).
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/kv.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

namespace {

void Append(std::string& input, uint8_t kind,
            const google::protobuf::Message& m) {
  const std::string bytes = m.SerializeAsString();
  ASSERT_LT(bytes.size(), 256u);
  input.push_back(static_cast<char>(kind));
  input.push_back(static_cast<char>(bytes.size()));
  input += bytes;
}

int RunInput(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                                input.size());
}

TEST(KvFuzzSmokeTest, SeedsExerciseEveryRequestKind) {
  std::string input;
  mvkv::v1::PutRequest put;
  put.set_key("k");
  put.set_value("v");
  Append(input, 1, put);
  mvkv::v1::GetRequest get;
  get.set_key("k");
  Append(input, 0, get);
  Append(input, 6, mvkv::v1::BeginTxnRequest());
  mvkv::v1::TxnPutRequest tput;
  tput.set_txn_id(0);  // the handle opened above
  tput.set_key("h");
  Append(input, 9, tput);
  mvkv::v1::CommitTxnRequest commit;
  Append(input, 12, commit);
  Append(input, 8, mvkv::v1::TxnGetRequest());  // after commit
  mvkv::v1::SessionRequest begin;
  begin.mutable_begin();
  Append(input, 14, begin);
  mvkv::v1::SessionRequest sput;
  sput.mutable_put()->set_key("s");
  Append(input, 14, sput);
  mvkv::v1::CompareAndCommitRequest txn;
  txn.add_compares()->set_key("k");
  txn.add_success()->mutable_delete_()->set_key("k");
  Append(input, 4, txn);
  mvkv::v1::ScanRequest scan;
  scan.set_end("a");
  scan.set_start("b");
  Append(input, 3, scan);
  EXPECT_EQ(RunInput(input), 0);
}

TEST(KvFuzzSmokeTest, SurvivesPseudoRandomBytes) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 3000; ++i) {
    std::string input(rng() % 300, '\0');
    for (char& c : input) c = static_cast<char>(rng());
    EXPECT_EQ(RunInput(input), 0);
  }
}

}  // namespace
