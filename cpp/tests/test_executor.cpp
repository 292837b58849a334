// Executor and parallel-op tests: results independent of thread count, errors, concurrent callers.
#include <gtest/gtest.h>

#if defined(__linux__)
#include <pthread.h>
#endif

#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "kernels/process_numbers.hpp"
#include "ops.hpp"
#include "runtime/executor.hpp"
#include "runtime/process_executor.hpp"

namespace {

using gilfree::runtime::ChunkContext;
using gilfree::runtime::Executor;

std::vector<std::int64_t> random_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(rng());
  return values;
}

TEST(Executor, RejectsZeroThreads) { EXPECT_THROW(Executor(0), std::invalid_argument); }

TEST(Executor, RunsEveryChunkExactlyOnce) {
  Executor executor(3);
  constexpr std::size_t kChunks = 1000;
  std::vector<std::atomic<int>> hits(kChunks);
  executor.run(kChunks, [&](std::size_t i, const ChunkContext&) { hits[i].fetch_add(1); });
  for (std::size_t i = 0; i < kChunks; ++i) EXPECT_EQ(hits[i].load(), 1) << i;
}

TEST(Executor, UsesSeveralWorkers) {
  Executor executor(4);
  std::mutex mu;
  std::set<std::thread::id> seen;
  std::atomic<int> arrived{0};
  // Each chunk waits until four chunks run at once: possible only with four workers.
  executor.run(4, [&](std::size_t, const ChunkContext&) {
    {
      std::lock_guard lock(mu);
      seen.insert(std::this_thread::get_id());
    }
    arrived.fetch_add(1);
    while (arrived.load() < 4) std::this_thread::yield();
  });
  EXPECT_EQ(seen.size(), 4U);
}

#if defined(__linux__)
TEST(Executor, WorkersAreNamed) {
  Executor executor(2);
  std::string name;
  executor.run(1, [&](std::size_t, const ChunkContext&) {
    char buffer[16] = {};
    pthread_getname_np(pthread_self(), buffer, sizeof(buffer));
    name = buffer;
  });
  EXPECT_EQ(name, "gilfree-worker");
}
#endif

TEST(Executor, ZeroChunksReturnsAtOnce) {
  Executor executor(2);
  bool ran = false;
  executor.run(0, [&](std::size_t, const ChunkContext&) { ran = true; });
  EXPECT_FALSE(ran);
}

TEST(Executor, ExceptionReachesCallerAndSkipsTheRest) {
  Executor executor(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(executor.run(10000,
                            [&](std::size_t i, const ChunkContext&) {
                              ran.fetch_add(1);
                              if (i == 0) throw std::runtime_error("chunk failed");
                            }),
               std::runtime_error);
  EXPECT_LT(ran.load(), 10000);
  // The executor is still healthy afterwards.
  std::atomic<int> after{0};
  executor.run(100, [&](std::size_t, const ChunkContext&) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 100);
}

TEST(Executor, ConcurrentCallers) {
  Executor executor(2);
  std::vector<std::thread> callers;
  std::atomic<std::size_t> total{0};
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int r = 0; r < 20; ++r)
        executor.run(50, [&](std::size_t, const ChunkContext&) { total.fetch_add(1); });
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 8U * 20U * 50U);
}

class ParallelProcessNumbers : public ::testing::TestWithParam<unsigned> {};

TEST_P(ParallelProcessNumbers, SameResultForAnyThreadCount) {
  const auto in = random_values(100'003, 7);
  for (std::uint64_t iterations : {0U, 1U, 3U, 1000U}) {
    std::vector<std::int64_t> expected(in.size());
    gilfree::kernels::process_numbers_reference(in, expected, iterations);
    Executor executor(GetParam());
    std::vector<std::int64_t> out(in.size());
    gilfree::ops::process_numbers(executor, in, out, iterations);
    ASSERT_EQ(out, expected) << "threads=" << GetParam() << " iterations=" << iterations;
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, ParallelProcessNumbers, ::testing::Values(1U, 2U, 7U));

TEST(ParallelProcessNumbers, HugeIterationsStopWithinTheChunk) {
  Executor executor(2);
  std::vector<std::int64_t> values(512, 7);  // two chunks of about 10^11 steps each
  auto job = gilfree::ops::submit_process_numbers(executor, values, values, 200'000'000,
                                                  std::nullopt, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto t0 = std::chrono::steady_clock::now();
  job->cancel();
  ASSERT_TRUE(job->wait_for(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
  EXPECT_EQ(job->status(), gilfree::runtime::JobStatus::kCancelled);
  EXPECT_EQ(executor.stats().busy_workers, 0U);
}

TEST(ParallelProcessNumbers, SmallJobRunsBetweenSlicesOfAHugeOne) {
  Executor executor(2);
  std::vector<std::int64_t> huge(4096, 3);  // 16 chunks of ~10^11 steps, run in slices
  auto big = gilfree::ops::submit_process_numbers(executor, huge, huge, 100'000'000, std::nullopt,
                                                  nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::vector<std::int64_t> small(100, 1), expected(100);
  const auto t0 = std::chrono::steady_clock::now();
  auto job =
      gilfree::ops::submit_process_numbers(executor, small, small, 1000, std::nullopt, nullptr);
  ASSERT_TRUE(job->wait_for(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  gilfree::kernels::process_numbers_reference(std::vector<std::int64_t>(100, 1), expected, 1000);
  EXPECT_EQ(small, expected);
  EXPECT_FALSE(big->finished());
  big->cancel();
  ASSERT_TRUE(big->wait_for(std::chrono::seconds(5)));
  EXPECT_EQ(big->status(), gilfree::runtime::JobStatus::kCancelled);
}

TEST(ParallelProcessNumbers, SlicedRunsGiveTheSameResult) {
  // 300 elements x 100k iterations: at any level several slices per chunk.
  Executor executor(2);
  std::vector<std::int64_t> in = random_values(300, 11), out(300), expected(300);
  auto job =
      gilfree::ops::submit_process_numbers(executor, in, out, 100'000, std::nullopt, nullptr);
  job->wait();
  EXPECT_EQ(job->status(), gilfree::runtime::JobStatus::kSucceeded);
  gilfree::kernels::process_numbers_reference(in, expected, 100'000);
  EXPECT_EQ(out, expected);
}

TEST(ParallelProcessNumbers, RejectsMismatchedSizes) {
  Executor executor(1);
  std::vector<std::int64_t> in(10), out(9);
  EXPECT_THROW(gilfree::ops::process_numbers(executor, in, out, 1), std::invalid_argument);
}

TEST(Grain, ChunksStayShortAndAligned) {
  for (std::uint64_t iterations : {0U, 1U, 10U, 1000U, 100000U, 1U << 30}) {
    const std::size_t grain = gilfree::ops::process_numbers_grain(iterations);
    EXPECT_GE(grain, 256U);
    EXPECT_EQ(grain % 256, 0U);
    EXPECT_LE(grain, 1U << 16);
  }
  // Wider SIMD, more elements per chunk: chunks last about as long at every level.
  const auto before = gilfree::kernels::active_simd_level();
  gilfree::kernels::set_simd_level(gilfree::kernels::SimdLevel::kScalar);
  const std::size_t scalar_grain = gilfree::ops::process_numbers_grain(10);
  gilfree::kernels::set_simd_level(gilfree::kernels::supported_simd_levels().back());
  EXPECT_GE(gilfree::ops::process_numbers_grain(10), scalar_grain);
  gilfree::kernels::set_simd_level(before);
}

TEST(ProcessExecutor, ConfigureAndShutdown) {
  gilfree::runtime::configure_process_executor(3);
  EXPECT_EQ(gilfree::runtime::process_executor_threads(), 3U);
  auto held = gilfree::runtime::process_executor();
  gilfree::runtime::configure_process_executor(2);  // the held executor stays usable
  std::atomic<int> ran{0};
  held->run(10, [&](std::size_t, const ChunkContext&) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 10);
  EXPECT_EQ(gilfree::runtime::process_executor()->threads(), 2U);
  gilfree::runtime::shutdown_process_executor();
  EXPECT_EQ(gilfree::runtime::process_executor_threads(),
            2U);  // restarts with the configured count
  EXPECT_EQ(gilfree::runtime::process_executor()->threads(), 2U);
  gilfree::runtime::shutdown_process_executor();
}

}  // namespace
