// ParseStall: the --stall grammar KIND:K[@T][+D][:SELECT] (stall_spec.h).
#include "bench/ycsb/stall_spec.h"

#include "gtest/gtest.h"

namespace mvkv::ycsb {
namespace {

TEST(StallSpecTest, ParsesEveryKindWithTimesAndSelectors) {
  Stall s = ParseStall("thread:2@300ms+1.5s:name=grpc*").value();
  EXPECT_EQ(s.kind, Stall::kThread);
  EXPECT_EQ(s.count, 2);
  EXPECT_DOUBLE_EQ(s.at_s, 0.3);
  EXPECT_DOUBLE_EQ(s.duration_s, 1.5);
  EXPECT_EQ(s.select.kind, ThreadSelector::kName);
  EXPECT_EQ(s.select.pattern, "grpc*");
  EXPECT_EQ(s.text, "thread:2@300ms+1.5s:name=grpc*");

  s = ParseStall("thread:1@2").value();
  EXPECT_EQ(s.select.kind, ThreadSelector::kBusiest);  // the default
  EXPECT_DOUBLE_EQ(s.duration_s, 0);                     // to the end
  s = ParseStall("thread:1@2s:random=42").value();
  EXPECT_EQ(s.select.kind, ThreadSelector::kRandom);
  EXPECT_TRUE(s.select.seed_given);
  EXPECT_EQ(s.select.seed, 42u);
  EXPECT_FALSE(ParseStall("thread:1@2s:random").value().select.seed_given);
  EXPECT_EQ(ParseStall("thread:1@2s:busy").value().select.kind, ThreadSelector::kBusiest);

  s = ParseStall("server-reclaim:3@1s+4s").value();
  EXPECT_EQ(s.kind, Stall::kServerReclaim);
  EXPECT_EQ(s.count, 3);
  EXPECT_DOUBLE_EQ(s.duration_s, 4);
  s = ParseStall("reclaim:2").value();  // T defaults to 0
  EXPECT_EQ(s.kind, Stall::kReclaim);
  EXPECT_DOUBLE_EQ(s.at_s, 0);
  EXPECT_EQ(ParseStall("txn:1@0.5s+2").value().kind, Stall::kTxn);
}

TEST(StallSpecTest, RefusesWhatItCannotParseSayingWhy) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : {Case{"pause:1@1", "unknown kind"}, Case{"thread:0@1", "K must be"},
                        Case{"thread:1@x", "T must be"}, Case{"thread:1@1+0", "D must be"},
                        Case{"thread:1@1+", "D must be"}, Case{"reclaim:1@1:busy", "only thread:"},
                        Case{"thread:1@1:nope", "unknown thread selector"},
                        Case{"thread:1@1:name=", "needs a pattern"}}) {
    absl::StatusOr<Stall> s = ParseStall(c.text);
    ASSERT_FALSE(s.ok()) << c.text;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.why), absl::string_view::npos) << s.status();
  }
}

}  // namespace
}  // namespace mvkv::ycsb
