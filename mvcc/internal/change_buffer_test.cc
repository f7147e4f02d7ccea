// ChangeBuffer: records round-trip (also across the ring's end), Seek finds
// the first record at or after a timestamp, eviction moves the oldest start
// and makes Seek "compacted", Reset overwrites every reader, and — the
// concurrent property — a reader racing with the appender never accepts a
// record it did not read whole: every record it validates decodes exactly
// to what was appended at that timestamp.
#include "mvcc/internal/change_buffer.h"

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "mvcc/testing/seed.h"

namespace mvkv::mvcc_internal {
namespace {

const WatchRange kAll = WatchRange::Prefix("");

// The changes committed at `ts`: a pure function of ts, so a reader can
// check what it decoded.
struct Commit {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<DurableWrite> writes;
};
Commit MakeCommit(uint64_t ts, std::size_t max_bytes) {
  std::minstd_rand rng(static_cast<uint32_t>(ts * 2654435761u + 1));
  Commit c;
  const int n = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < n; ++i) {
    c.keys.push_back(absl::StrCat("k", i, "/", ts % 97));
    c.values.push_back(std::string(rng() % max_bytes, static_cast<char>('a' + ts % 26)));
  }
  for (int i = 0; i < n; ++i) {
    const bool tombstone = rng() % 5 == 0;
    const std::string_view value =
        tombstone ? std::string_view() : std::string_view(c.values[i]);
    c.writes.push_back({c.keys[i], value, tombstone});
  }
  return c;
}

std::vector<WatchChange> Expected(const Commit& c) {
  std::vector<WatchChange> out;
  for (const DurableWrite& w : c.writes) {
    out.push_back({std::string(w.key), std::string(w.value), w.tombstone});
  }
  return out;
}

bool Same(const std::vector<WatchChange>& a, const std::vector<WatchChange>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || a[i].value != b[i].value ||
        a[i].deleted != b[i].deleted) {
      return false;
    }
  }
  return true;
}

// Decodes every record from `pos` to the tail; false if overwritten.
bool ReadAll(const ChangeBuffer& buffer, uint64_t pos,
             std::vector<std::pair<uint64_t, std::vector<WatchChange>>>* out) {
  std::string key;
  const uint64_t tail = buffer.LoadTail().pos;
  while (pos < tail) {
    ChangeBuffer::Record r;
    if (!buffer.ReadHeader(pos, &r)) return false;
    std::vector<WatchChange> changes;
    if (buffer.Decode(pos, r, kAll, true, &key, &changes) < 0) return false;
    out->emplace_back(r.commit_ts, std::move(changes));
    pos = r.next;
  }
  return true;
}

// Both ways of mapping positions: a power-of-two ring and another size.
class ChangeBufferSizeTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(ChangeBufferSizeTest, RecordsRoundTripAcrossTheEndOfTheRing) {
  ChangeBuffer buffer(GetParam(), 0);
  uint64_t pos = 0;
  for (uint64_t ts = 1; ts <= 500; ++ts) {
    const Commit c = MakeCommit(ts, 100);
    buffer.Append(ts, c.writes);
    std::vector<std::pair<uint64_t, std::vector<WatchChange>>> got;
    ASSERT_TRUE(ReadAll(buffer, pos, &got)) << ts;
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, ts);
    EXPECT_TRUE(Same(got[0].second, Expected(c))) << ts;
    pos = buffer.LoadTail().pos;
    EXPECT_EQ(buffer.LoadTail().covered_ts, ts);
    EXPECT_LE(buffer.buffered_bytes(), GetParam());
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, ChangeBufferSizeTest,
                         ::testing::Values(4096, 5000));

TEST(ChangeBufferTest, SeekFindsTheFirstRecordAtOrAfterATimestamp) {
  ChangeBuffer buffer(1 << 16, 9);
  const DurableWrite w[] = {{"k", "v", false}};
  for (uint64_t ts : {10, 12, 15, 16}) buffer.Append(ts, w);
  buffer.Append(17, {});  // covered only: no record
  auto first_ts = [&](uint64_t start) -> int64_t {
    absl::StatusOr<uint64_t> pos = buffer.Seek(start);
    EXPECT_TRUE(pos.ok()) << pos.status();
    if (!pos.ok() || *pos == buffer.LoadTail().pos) return -1;
    ChangeBuffer::Record r;
    EXPECT_TRUE(buffer.ReadHeader(*pos, &r));
    return static_cast<int64_t>(r.commit_ts);
  };
  EXPECT_EQ(first_ts(10), 10);
  EXPECT_EQ(first_ts(11), 12);
  EXPECT_EQ(first_ts(12), 12);
  EXPECT_EQ(first_ts(13), 15);
  EXPECT_EQ(first_ts(16), 16);
  EXPECT_EQ(first_ts(17), -1);
  EXPECT_EQ(first_ts(18), -1);
  EXPECT_EQ(buffer.LoadTail().covered_ts, 17u);
  absl::StatusOr<uint64_t> old = buffer.Seek(9);
  EXPECT_TRUE(absl::IsOutOfRange(old.status())) << old.status();
}

TEST(ChangeBufferTest, EvictionMovesTheOldestStartAndSeekSaysCompacted) {
  ChangeBuffer buffer(4096, 0);
  const DurableWrite w[] = {{"key", "0123456789", false}};  // 10 words
  for (uint64_t ts = 1; ts <= 1000; ++ts) buffer.Append(ts, w);
  // 4096 bytes = 512 words hold 51 records of 10 words.
  EXPECT_EQ(buffer.begin_ts(), 1000u - 51 + 1);
  absl::StatusOr<uint64_t> pos = buffer.Seek(buffer.begin_ts());
  ASSERT_TRUE(pos.ok()) << pos.status();
  std::vector<std::pair<uint64_t, std::vector<WatchChange>>> got;
  ASSERT_TRUE(ReadAll(buffer, *pos, &got));
  ASSERT_EQ(got.size(), 51u);
  EXPECT_EQ(got.front().first, buffer.begin_ts());
  absl::StatusOr<uint64_t> gone = buffer.Seek(buffer.begin_ts() - 1);
  ASSERT_TRUE(absl::IsOutOfRange(gone.status()));
  EXPECT_EQ(WatchRestartTs(gone.status()), buffer.begin_ts());
  EXPECT_EQ(buffer.buffered_bytes(), 51u * 80);
}

TEST(ChangeBufferTest, ResetOverwritesEveryReader) {
  ChangeBuffer buffer(4096, 0);
  const DurableWrite w[] = {{"k", "v", false}};
  buffer.Append(1, w);
  buffer.Append(2, w);
  const uint64_t old_tail = buffer.LoadTail().pos;
  buffer.Reset(100);
  const int64_t before = absl::GetCurrentTimeNanos();
  buffer.Append(101, w);
  const int64_t after = absl::GetCurrentTimeNanos();
  ChangeBuffer::Record r;
  EXPECT_FALSE(buffer.ReadHeader(0, &r));         // a reader before the reset
  EXPECT_FALSE(buffer.ReadHeader(old_tail, &r));  // one that was current
  EXPECT_EQ(buffer.begin_ts(), 101u);
  EXPECT_TRUE(absl::IsOutOfRange(buffer.Seek(2).status()));
  absl::StatusOr<uint64_t> pos = buffer.Seek(101);
  ASSERT_TRUE(pos.ok()) << pos.status();
  ASSERT_TRUE(buffer.ReadHeader(*pos, &r));
  EXPECT_EQ(r.commit_ts, 101u);
  // The record carries the time of its append.
  EXPECT_GE(r.append_unix_ns, before);
  EXPECT_LE(r.append_unix_ns, after);
}

// Property: with the appender overwriting the ring as fast as it can, a
// reader either detects that it was overwritten or decodes exactly the
// record appended at that timestamp, in timestamp order without gaps
// between validated reads. Seed logged (records are a function of it).
TEST(ChangeBufferTest, ConcurrentReadersNeverAcceptATornRecord) {
  const uint64_t seed = testing_support::TestSeed();
#ifdef MVKV_SANITIZER
  const uint64_t kCommits = 20000;
#else
  const uint64_t kCommits = 200000;
#endif
  const uint64_t base = seed % 1000;  // timestamps start after it
  ChangeBuffer buffer(8192, base);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> validated{0}, laps{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      std::string key;
      uint64_t pos = 0;
      uint64_t expect_ts = 0;  // 0: just (re)started
      auto restart = [&] {
        laps.fetch_add(1, std::memory_order_relaxed);
        absl::StatusOr<uint64_t> p = buffer.Seek(buffer.begin_ts());
        while (!p.ok()) p = buffer.Seek(buffer.begin_ts());
        pos = *p;
        expect_ts = 0;
      };
      restart();
      while (!done.load(std::memory_order_acquire) ||
             pos < buffer.LoadTail().pos) {
        if (pos >= buffer.LoadTail().pos) continue;
        ChangeBuffer::Record r;
        if (!buffer.ReadHeader(pos, &r)) {
          restart();
          continue;
        }
        std::vector<WatchChange> changes;
        if (buffer.Decode(pos, r, kAll, true, &key, &changes) < 0) {
          restart();
          continue;
        }
        if (expect_ts != 0) {
          ASSERT_EQ(r.commit_ts, expect_ts);
        }
        ASSERT_TRUE(Same(changes, Expected(MakeCommit(r.commit_ts, 200))))
            << "torn record at ts " << r.commit_ts;
        validated.fetch_add(1, std::memory_order_relaxed);
        expect_ts = r.commit_ts + 1;
        pos = r.next;
      }
    });
  }
  for (uint64_t ts = base + 1; ts <= base + kCommits; ++ts) {
    const Commit c = MakeCommit(ts, 200);
    buffer.Append(ts, c.writes);
  }
  done.store(true, std::memory_order_release);
  for (auto& r : readers) r.join();
  std::printf("validated %llu records, %llu restarts\n",
              static_cast<unsigned long long>(validated.load()),
              static_cast<unsigned long long>(laps.load()));
  EXPECT_GT(validated.load(), 0u);
}

}  // namespace
}  // namespace mvkv::mvcc_internal
