#include "server/executor.h"

#include <atomic>
#include <future>
#include <thread>

#include "gtest/gtest.h"

namespace mvkv::server {
namespace {

TEST(ExecutorTest, RefusesTasksPastTheQueueBoundAndRunsTheRest) {
  Executor executor(1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  // One task occupies the worker; two fill the queue; the fourth is refused.
  ASSERT_TRUE(executor.Submit([&] {
    gate.wait();
    ran++;
  }));
  while (executor.queued() != 0) std::this_thread::yield();
  EXPECT_TRUE(executor.Submit([&] { ran++; }));
  EXPECT_TRUE(executor.Submit([&] { ran++; }));
  EXPECT_FALSE(executor.Submit([&] { ran++; }));
  release.set_value();
  executor.Shutdown();  // drains the queue
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(executor.Submit([&] { ran++; }));
}

}  // namespace
}  // namespace mvkv::server
