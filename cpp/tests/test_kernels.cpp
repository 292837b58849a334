// Kernel tests: the contract's vector table, int64 edges, and the fast loop against the plain one.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/process_numbers.hpp"
#include "kernels/sum_squares.hpp"

namespace {

using gilfree::kernels::kModulus;
using gilfree::kernels::process_numbers;
using gilfree::kernels::process_numbers_reference;
using gilfree::kernels::process_step;
using gilfree::kernels::sum_squares;
using gilfree::kernels::to_decimal;

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

struct VectorRow {
  std::int64_t input;
  std::int64_t it0, it1, it2, it1000, it100000;
};

// docs/semantics.md section 1, verbatim.
const std::vector<VectorRow> kContractVectors = {
    {0, 0, 2, 6, 376846411, 215447031},
    {1, 1, 4, 10, 65269614, 823170551},
    {-1, -1, 0, 2, 688423208, 607723518},
    {-2, -2, -2, -2, -2, -2},
    {kMax, kMax, 0, 2, 688423208, 607723518},
    {kMin, kMin, 2, 6, 376846411, 215447031},
    {1000000006, 1000000006, 0, 2, 688423208, 607723518},
    {-1000000006, -1000000006, -1000000003, -999999997, -934730393, -176829456},
    {-1000000007, -1000000007, -1000000005, -1000000001, -623153596, -784552976},
    {-500000004, -500000004, -1000000006, -1000000003, -967365201, -88414729},
};

std::int64_t run_one(std::int64_t x, std::uint64_t iterations) {
  std::vector<std::int64_t> in{x};
  std::vector<std::int64_t> out(1);
  process_numbers(in, out, iterations);
  return out[0];
}

TEST(ProcessNumbers, ContractVectors) {
  for (const auto& row : kContractVectors) {
    SCOPED_TRACE(row.input);
    EXPECT_EQ(run_one(row.input, 0), row.it0);
    EXPECT_EQ(run_one(row.input, 1), row.it1);
    EXPECT_EQ(run_one(row.input, 2), row.it2);
    EXPECT_EQ(run_one(row.input, 1000), row.it1000);
    EXPECT_EQ(run_one(row.input, 100000), row.it100000);
  }
}

TEST(ProcessNumbers, ContractVectorsScalar) {
  for (const auto& row : kContractVectors) {
    std::vector<std::int64_t> in{row.input};
    std::vector<std::int64_t> out(1);
    process_numbers_reference(in, out, 1000);
    EXPECT_EQ(out[0], row.it1000) << row.input;
  }
}

TEST(ProcessNumbers, StepWrapsLikeRust) {
  // (MAX + 1) wraps to MIN, * 2 wraps to 0.
  EXPECT_EQ(process_step(kMax), 0);
  // (MIN + 1) * 2 = -2^64 + 2 wraps to 2.
  EXPECT_EQ(process_step(kMin), 2);
  // The remainder keeps the dividend's sign.
  EXPECT_EQ(process_step(-1000000006), -1000000003);
  EXPECT_EQ(process_step(-2), -2);
}

// Every value that can reach the 32-bit inner loop, near each boundary of its reductions.
TEST(ProcessNumbers, ReducedStepMatchesScalarAtEveryBoundary) {
  std::vector<std::int64_t> in;
  for (std::int64_t centre : {-kModulus, -kModulus / 2, std::int64_t{0}, kModulus / 2, kModulus,
                              2 * kModulus, -2 * kModulus, kMin, kMax}) {
    for (std::int64_t d = -6; d <= 6; ++d) {
      const std::int64_t v =
          centre + ((d < 0 && centre == kMin) || (d > 0 && centre == kMax) ? 0 : d);
      in.push_back(v);
    }
  }
  for (std::uint64_t iterations : {1U, 2U, 3U, 7U, 64U}) {
    std::vector<std::int64_t> fast(in.size());
    std::vector<std::int64_t> slow(in.size());
    process_numbers(in, fast, iterations);
    process_numbers_reference(in, slow, iterations);
    EXPECT_EQ(fast, slow) << "iterations=" << iterations;
  }
}

TEST(ProcessNumbers, RandomInputsMatchScalarAcrossBlockTails) {
  std::mt19937_64 rng(12345);
  for (std::size_t n : {0U, 1U, 7U, 255U, 256U, 257U, 1000U, 4099U}) {
    std::vector<std::int64_t> in(n);
    for (auto& v : in) v = static_cast<std::int64_t>(rng());
    for (std::uint64_t iterations : {0U, 1U, 2U, 5U, 1000U}) {
      std::vector<std::int64_t> fast(n);
      std::vector<std::int64_t> slow(n);
      process_numbers(in, fast, iterations);
      process_numbers_reference(in, slow, iterations);
      ASSERT_EQ(fast, slow) << "n=" << n << " iterations=" << iterations;
    }
  }
}

TEST(ProcessNumbers, InPlace) {
  std::vector<std::int64_t> values{0, 1, -1, kMax, kMin};
  process_numbers(values, values, 1000);
  EXPECT_EQ(values,
            (std::vector<std::int64_t>{376846411, 65269614, 688423208, 688423208, 376846411}));
}

TEST(SumSquares, Examples) {
  EXPECT_EQ(to_decimal(sum_squares(5, 10)), "125");
  EXPECT_EQ(to_decimal(sum_squares(0, 0)), "0");
  EXPECT_EQ(to_decimal(sum_squares(-3, 4)), "25");
}

TEST(SumSquares, Int64Edges) {
  EXPECT_EQ(to_decimal(sum_squares(kMin, kMin)), "170141183460469231731687303715884105728");
  EXPECT_EQ(to_decimal(sum_squares(kMax, kMax)), "170141183460469231694793815568465002498");
  EXPECT_EQ(to_decimal(sum_squares(kMin, 0)), "85070591730234615865843651857942052864");
  EXPECT_EQ(to_decimal(sum_squares(kMax, kMin)), "170141183460469231713240559642174554113");
}

TEST(SumSquares, ToDecimalLargest) {
  const gilfree::kernels::uint128 all_ones = ~gilfree::kernels::uint128{0};
  EXPECT_EQ(to_decimal(all_ones), "340282366920938463463374607431768211455");
}

}  // namespace
