// gilfree's own kernels as public-API jobs (ops): results independent of the thread count and the
// slicing, stops within a chunk, small jobs between the slices of a huge one, declared costs.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kernels/process_numbers.hpp"
#include "ops.hpp"
#include "runtime/executor.hpp"
#include "runtime/kernel_abi.hpp"

namespace {

using gilfree::ops::ProcessNumbers;
using gilfree::runtime::Executor;
using gilfree::runtime::JobStatus;
using gilfree::runtime::start_job;

std::vector<std::int64_t> random_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(rng());
  return values;
}

// Starts process_numbers from `in` into `out` as gilfree's own kernel does.
auto start_process_numbers(Executor& executor, std::span<const std::int64_t> in,
                           std::span<std::int64_t> out, std::uint64_t iterations) {
  return start_job(executor, gilfree::ops::kProcessNumbers, ProcessNumbers(in, out, iterations));
}

class ParallelProcessNumbers : public ::testing::TestWithParam<unsigned> {};

TEST_P(ParallelProcessNumbers, SameResultForAnyThreadCount) {
  const auto in = random_values(100'003, 7);
  for (std::uint64_t iterations : {0U, 1U, 3U, 1000U}) {
    std::vector<std::int64_t> expected(in.size());
    gilfree::kernels::process_numbers_reference(in, expected, iterations);
    Executor executor(GetParam());
    std::vector<std::int64_t> out(in.size());
    const auto job = start_process_numbers(executor, in, out, iterations);
    job->job()->wait();
    EXPECT_EQ(job->job()->status(), JobStatus::kSucceeded);
    ASSERT_EQ(out, expected) << "threads=" << GetParam() << " iterations=" << iterations;
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, ParallelProcessNumbers, ::testing::Values(1U, 2U, 7U));

TEST(ParallelProcessNumbers, AnEmptyInputIsAJobOfOneChunk) {
  Executor executor(1);
  std::vector<std::int64_t> none;
  const ProcessNumbers empty(none, none, 1000);
  EXPECT_EQ(empty.chunks(), 1U);
  const auto job = start_process_numbers(executor, none, none, 1000);
  job->job()->wait();
  EXPECT_EQ(job->job()->status(), JobStatus::kSucceeded);
}

TEST(ParallelProcessNumbers, HugeIterationsStopWithinTheChunk) {
  Executor executor(2);
  std::vector<std::int64_t> values(512, 7);  // two chunks of about 10^11 steps each
  const auto job = start_process_numbers(executor, values, values, 200'000'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto t0 = std::chrono::steady_clock::now();
  job->job()->cancel();
  ASSERT_TRUE(job->job()->wait_for(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
  EXPECT_EQ(job->job()->status(), JobStatus::kCancelled);
  EXPECT_EQ(executor.stats().busy_workers, 0U);
}

TEST(ParallelProcessNumbers, SmallJobRunsBetweenSlicesOfAHugeOne) {
  Executor executor(2);
  std::vector<std::int64_t> huge(4096, 3);  // 16 chunks of ~10^11 steps, run in slices
  const auto big = start_process_numbers(executor, huge, huge, 100'000'000);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::vector<std::int64_t> small(100, 1), expected(100);
  const auto t0 = std::chrono::steady_clock::now();
  const auto job = start_process_numbers(executor, small, small, 1000);
  ASSERT_TRUE(job->job()->wait_for(std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  gilfree::kernels::process_numbers_reference(std::vector<std::int64_t>(100, 1), expected, 1000);
  EXPECT_EQ(small, expected);
  EXPECT_FALSE(big->job()->finished());
  big->job()->cancel();
  ASSERT_TRUE(big->job()->wait_for(std::chrono::seconds(5)));
  EXPECT_EQ(big->job()->status(), JobStatus::kCancelled);
}

TEST(ParallelProcessNumbers, SlicedRunsGiveTheSameResult) {
  // 300 elements x 100k iterations: at any level several slices per chunk.
  Executor executor(2);
  std::vector<std::int64_t> in = random_values(300, 11), out(300), expected(300);
  const auto job = start_process_numbers(executor, in, out, 100'000);
  job->job()->wait();
  EXPECT_EQ(job->job()->status(), JobStatus::kSucceeded);
  gilfree::kernels::process_numbers_reference(in, expected, 100'000);
  EXPECT_EQ(out, expected);
}

TEST(ParallelProcessNumbers, RejectsMismatchedSizes) {
  std::vector<std::int64_t> in(10), out(9);
  EXPECT_THROW(ProcessNumbers(in, out, 1), std::invalid_argument);
}

TEST(ParallelProcessNumbers, DeclaresItsCostAtTheActiveLevel) {
  // A chunk of one grain declares about 100 us (the grain is rounded down to whole blocks).
  for (std::uint64_t iterations : {10U, 1000U}) {
    const std::size_t grain = gilfree::ops::process_numbers_grain(iterations);
    const double chunk_s = gilfree::ops::process_numbers_cost_s(grain, iterations);
    EXPECT_GT(chunk_s, 20e-6) << iterations;
    EXPECT_LE(chunk_s, 101e-6) << iterations;
  }
  EXPECT_DOUBLE_EQ(gilfree::ops::process_numbers_cost_s(1000, 0),
                   gilfree::ops::process_numbers_cost_s(1000, 1));
  EXPECT_EQ(gilfree::ops::process_numbers_steps(1U << 20, 1U << 20), std::uint64_t{1} << 40);
  EXPECT_EQ(gilfree::ops::process_numbers_steps(std::size_t{1} << 40, std::uint64_t{1} << 40),
            ~std::uint64_t{0});
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

}  // namespace
