// Router's decisions after a failed attempt (client/router.h), without a
// server: channels are created but never connect. Deterministic.
#include "client/router.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace mvkv::client {
namespace {

std::unique_ptr<Router> Make(const std::string& servers) {
  return *Router::Create(servers, grpc::InsecureChannelCredentials(),
                         grpc::ChannelArguments());
}

const absl::Time kFar = absl::InfiniteFuture();
const absl::Status kDown = absl::UnavailableError("connection reset");

TEST(RouterTest, ParsesTheListAndRefusesAnEmptyOne) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      Router::Create(" , ", grpc::InsecureChannelCredentials(),
                     grpc::ChannelArguments())
          .status()));
  auto r = Make("a:1, b:2");
  EXPECT_EQ(r->Current()->address, "a:1");
}

TEST(RouterTest, FollowsTheLeaderNamedByARefusal) {
  auto r = Make("a:1,b:2");
  Endpoint* a = r->Current();
  // Any call, writes included: a refusal did nothing.
  EXPECT_TRUE(r->After(a, kDown, std::string("c:3"), /*sent=*/true,
                       /*idempotent=*/false, 1, 16, kFar));
  EXPECT_EQ(r->Current()->address, "c:3");  // added to the list
}

TEST(RouterTest, RefusalWithoutALeaderTriesTheNextServer) {
  auto r = Make("a:1,b:2");
  EXPECT_TRUE(r->After(r->Current(), kDown, std::string(""), true, false, 1,
                       16, kFar));
  EXPECT_EQ(r->Current()->address, "b:2");
}

TEST(RouterTest, BrokenCallIsResentOnlyIfARead) {
  auto r = Make("a:1,b:2");
  EXPECT_FALSE(r->After(r->Current(), kDown, std::nullopt, true,
                        /*idempotent=*/false, 1, 16, kFar));
  EXPECT_EQ(r->Current()->address, "b:2");  // the next call goes elsewhere
  EXPECT_TRUE(r->After(r->Current(), kDown, std::nullopt, true,
                       /*idempotent=*/true, 1, 16, kFar));
  EXPECT_EQ(r->Current()->address, "a:1");
}

TEST(RouterTest, UnreachableServerIsSkippedUnlessAlone) {
  auto two = Make("a:1,b:2");
  EXPECT_TRUE(two->After(two->Current(), kDown, std::nullopt,
                         /*sent=*/false, false, 1, 16, kFar));
  auto one = Make("a:1");
  EXPECT_FALSE(one->After(one->Current(), kDown, std::nullopt, false, false,
                          1, 16, kFar));
}

TEST(RouterTest, BoundedByAttemptsAndDeadline) {
  auto r = Make("a:1,b:2");
  EXPECT_FALSE(r->After(r->Current(), kDown, std::string("b:2"), true, false,
                        /*attempt=*/16, /*max_attempts=*/16, kFar));
  EXPECT_FALSE(r->After(r->Current(), kDown, std::string(""), true, true, 1,
                        16, absl::Now()));
  // Not UNAVAILABLE: returned as is.
  EXPECT_FALSE(r->After(r->Current(), absl::AbortedError("conflict"),
                        std::nullopt, true, true, 1, 16, kFar));
}

TEST(RouterTest, BackOffDoublesFrom25MsToAtMost100Ms) {
  EXPECT_EQ(Router::BackOff(1), absl::Milliseconds(25));
  EXPECT_EQ(Router::BackOff(2), absl::Milliseconds(50));
  EXPECT_EQ(Router::BackOff(3), absl::Milliseconds(100));
  EXPECT_EQ(Router::BackOff(40), absl::Milliseconds(100));
}

TEST(RouterTest, DeadlineExceededMovesOn) {
  auto r = Make("a:1,b:2");
  EXPECT_FALSE(r->After(r->Current(), absl::DeadlineExceededError("slow"),
                        std::nullopt, true, true, 1, 16, kFar));
  EXPECT_EQ(r->Current()->address, "b:2");
}

}  // namespace
}  // namespace mvkv::client
