// BufferCache: reuse, best fit, the byte limit, small blocks passed through, threads.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "memory/buffer_cache.hpp"

namespace {

using gilfree::memory::Block;
using gilfree::memory::BufferCache;

constexpr std::size_t kMiB = std::size_t{1} << 20;

TEST(BufferCache, ReusesAGivenBackBlock) {
  BufferCache cache(64 * kMiB);
  std::byte* first = nullptr;
  {
    Block block = cache.take(3 * kMiB);
    ASSERT_GE(block.capacity(), 3 * kMiB);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block.data()) % 64, 0U);
    std::memset(block.data(), 0x5a, 3 * kMiB);  // the whole capacity asked for is usable
    first = block.data();
  }
  EXPECT_EQ(cache.stats().retained_blocks, 1U);
  const Block again = cache.take(3 * kMiB - 100);
  EXPECT_EQ(again.data(), first);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.reused, 1U);
  EXPECT_EQ(stats.allocated, 1U);
  EXPECT_EQ(stats.retained_bytes, 0U);
}

TEST(BufferCache, TakesTheSmallestFitNotAFarLargerBlock) {
  BufferCache cache(256 * kMiB);
  std::byte* small = nullptr;
  std::byte* large = nullptr;
  {
    Block a = cache.take(40 * kMiB);
    Block b = cache.take(2 * kMiB);
    large = a.data();
    small = b.data();
  }
  EXPECT_EQ(cache.take(kMiB + kMiB / 2).data(), small);  // fits, and not much larger
  // 40 MiB for a 1 MiB request would tie up a block a large request needs: a new block instead.
  const Block one = cache.take(kMiB);
  EXPECT_NE(one.data(), large);
  EXPECT_EQ(cache.take(39 * kMiB).data(), large);
}

TEST(BufferCache, RetainsAtMostItsLimitOldestGoFirst) {
  BufferCache cache(10 * kMiB);
  std::vector<std::byte*> addresses;
  {
    std::vector<Block> blocks;
    for (int i = 0; i < 4; ++i) {
      blocks.push_back(cache.take(4 * kMiB));
      addresses.push_back(blocks.back().data());
    }
  }  // given back in order 0, 1, 2, 3: only the last two fit 10 MiB
  auto stats = cache.stats();
  EXPECT_EQ(stats.retained_blocks, 2U);
  EXPECT_LE(stats.retained_bytes, 10 * kMiB);
  const Block a = cache.take(4 * kMiB);
  const Block b = cache.take(4 * kMiB);
  EXPECT_TRUE((a.data() == addresses[2] && b.data() == addresses[3]) ||
              (a.data() == addresses[3] && b.data() == addresses[2]));
}

TEST(BufferCache, ABlockLargerThanTheLimitIsFreed) {
  BufferCache cache(kMiB);
  {
    const Block block = cache.take(2 * kMiB);
  }
  EXPECT_EQ(cache.stats().retained_blocks, 0U);
}

TEST(BufferCache, LoweringTheLimitFreesNowAndZeroRetainsNothing) {
  BufferCache cache(64 * kMiB);
  {
    const Block a = cache.take(4 * kMiB);
    const Block b = cache.take(4 * kMiB);
  }
  EXPECT_EQ(cache.stats().retained_blocks, 2U);
  cache.set_max_retained_bytes(0);
  EXPECT_EQ(cache.stats().retained_blocks, 0U);
  {
    const Block c = cache.take(4 * kMiB);
  }
  EXPECT_EQ(cache.stats().retained_blocks, 0U);
}

TEST(BufferCache, SmallBlocksBypassTheCache) {
  BufferCache cache(64 * kMiB);
  {
    const Block block = cache.take(1000);
    EXPECT_GE(block.capacity(), 1000U);
    const Block empty = cache.take(0);
    EXPECT_FALSE(empty.empty());
  }
  const auto stats = cache.stats();
  EXPECT_EQ(stats.retained_blocks, 0U);
  EXPECT_EQ(stats.allocated, 0U);
}

TEST(BufferCache, MovedBlocksGiveBackOnce) {
  BufferCache cache(64 * kMiB);
  {
    Block a = cache.take(kMiB);
    Block b = std::move(a);
    EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    Block c = cache.take(kMiB);
    c = std::move(b);  // c's own block goes back here
    EXPECT_EQ(cache.stats().retained_blocks, 1U);
  }
  EXPECT_EQ(cache.stats().retained_blocks, 2U);
}

TEST(BufferCache, ThreadsTakeAndGiveBackConcurrently) {
  BufferCache cache(16 * kMiB);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 200; ++i) {
        Block block = cache.take((static_cast<std::size_t>(i % 5) + 1) * 300 * 1024);
        std::memset(block.data(), t, 300 * 1024);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto stats = cache.stats();
  EXPECT_LE(stats.retained_bytes, 16 * kMiB);
  EXPECT_EQ(stats.reused + stats.allocated, 800U);
  EXPECT_GT(stats.reused, 0U);
}

}  // namespace
