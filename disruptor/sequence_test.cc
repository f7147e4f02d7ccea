#include "disruptor/sequence.h"

#include <vector>

#include "disruptor/ring_buffer.h"
#include "gtest/gtest.h"

namespace mvkv::disruptor {
namespace {

TEST(SequenceTest, StartsAtInitialSequence) {
  Sequence s;
  EXPECT_EQ(s.Get(), kInitialSequence);
  EXPECT_EQ(Sequence(7).Get(), 7);
}

TEST(SequenceTest, SetCompareAndSetAddAndGet) {
  Sequence s;
  s.Set(10);
  EXPECT_EQ(s.Get(), 10);
  EXPECT_FALSE(s.CompareAndSet(9, 20));
  EXPECT_TRUE(s.CompareAndSet(10, 20));
  EXPECT_EQ(s.AddAndGet(5), 25);
  EXPECT_EQ(s.GetRelaxed(), 25);
}

TEST(SequenceTest, OccupiesItsOwnCacheLines) {
  Sequence s[2];
  const auto distance = reinterpret_cast<const char*>(&s[1]) -
                        reinterpret_cast<const char*>(&s[0]);
  EXPECT_GE(distance, static_cast<std::ptrdiff_t>(kCacheLineSize));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(&s[0]) % kCacheLineSize, 0u);
}

TEST(SequenceTest, MinimumSequenceOfGroup) {
  Sequence a(3), b(1), c(8);
  std::vector<const Sequence*> group{&a, &b, &c};
  EXPECT_EQ(MinimumSequence(group), 1);
  EXPECT_EQ(MinimumSequence({}, 42), 42);
}

TEST(RingBufferTest, MapsSequencesOntoSlotsModuloSize) {
  RingBuffer<int> ring(8);
  EXPECT_EQ(ring.size(), 8u);
  for (int64_t seq = 0; seq < 8; ++seq) ring[seq] = static_cast<int>(seq);
  EXPECT_EQ(ring[8], 0);  // Same slot as 0: the next lap reuses it.
  EXPECT_EQ(ring[13], 5);
  EXPECT_EQ(&ring[3], &ring[11]);
}

TEST(RingBufferTest, DefaultConstructsEveryEventOnce) {
  struct Event {
    int value = 17;
  };
  RingBuffer<Event> ring(4);
  for (int64_t seq = 0; seq < 4; ++seq) EXPECT_EQ(ring[seq].value, 17);
}

}  // namespace
}  // namespace mvkv::disruptor
