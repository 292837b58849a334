// SIMD levels: every level this CPU runs is bit-exact against the reference; dispatch is sane.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/process_numbers.hpp"

namespace {

using gilfree::kernels::SimdLevel;

std::vector<std::int64_t> inputs() {
  constexpr std::int64_t kP = gilfree::kernels::kModulus;
  std::vector<std::int64_t> values = {std::numeric_limits<std::int64_t>::min(),
                                      std::numeric_limits<std::int64_t>::max(),
                                      0,
                                      1,
                                      -1,
                                      -2,
                                      kP - 1,
                                      kP,
                                      -kP,
                                      -kP + 1,
                                      (kP + 3) / 2,
                                      -(kP + 3) / 2,
                                      -500000004};
  // Inputs whose first step lands on or next to a multiple of P, across the whole range (where
  // a quotient estimated in floating point could be one off): t = (v + 1) * 2 = k * P + d.
  for (const std::int64_t k :
       {std::int64_t{2}, std::int64_t{1} << 20, std::int64_t{1} << 32, (std::int64_t{1} << 33) - 2,
        std::int64_t{9'223'372'030}, std::int64_t{-2}, -(std::int64_t{1} << 32),
        -(std::int64_t{1} << 33) + 2, std::int64_t{-9'223'372'030}}) {
    for (const std::int64_t d : {-4, -2, 0, 2, 4}) {
      const auto t = static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(kP) +
                     static_cast<std::uint64_t>(d);
      values.push_back(static_cast<std::int64_t>(t / 2 - 1));
      values.push_back(static_cast<std::int64_t>(t / 2 - 1 + (std::uint64_t{1} << 63)));
    }
  }
  std::mt19937_64 rng(99);
  while (values.size() < 3001) values.push_back(static_cast<std::int64_t>(rng()));
  return values;
}

class EveryBuiltLevel : public ::testing::TestWithParam<SimdLevel> {};

TEST_P(EveryBuiltLevel, BitExactAgainstReference) {
  const SimdLevel level = GetParam();
  if (!gilfree::kernels::simd_level_supported(level)) {
    GTEST_SKIP() << "this CPU cannot run " << gilfree::kernels::simd_level_name(level);
  }
  const auto in = inputs();
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{256},
                        std::size_t{257}, in.size()}) {
    const std::span<const std::int64_t> part(in.data(), n);
    for (std::uint64_t iterations : {0U, 1U, 2U, 3U, 1000U}) {
      std::vector<std::int64_t> expected(n), got(n);
      gilfree::kernels::process_numbers_reference(part, expected, iterations);
      gilfree::kernels::process_numbers_at(level, part, got, iterations);
      ASSERT_EQ(got, expected) << gilfree::kernels::simd_level_name(level) << " n=" << n
                               << " iterations=" << iterations;
    }
  }
}

// The first step over many values of every magnitude (a level may compute it its own way).
TEST_P(EveryBuiltLevel, FirstStepBitExactOnManyValues) {
  const SimdLevel level = GetParam();
  if (!gilfree::kernels::simd_level_supported(level)) {
    GTEST_SKIP() << "this CPU cannot run " << gilfree::kernels::simd_level_name(level);
  }
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> in(300'000);
  for (auto& v : in) {
    const auto bits = static_cast<unsigned>(rng() % 64);
    const std::uint64_t magnitude = rng() >> bits;
    v = static_cast<std::int64_t>((rng() & 1U) != 0 ? 0U - magnitude : magnitude);
  }
  std::vector<std::int64_t> expected(in.size()), got(in.size());
  gilfree::kernels::process_numbers_reference(in, expected, 1);
  gilfree::kernels::process_numbers_at(level, in, got, 1);
  ASSERT_EQ(got, expected) << gilfree::kernels::simd_level_name(level);
}

INSTANTIATE_TEST_SUITE_P(Levels, EveryBuiltLevel,
                         ::testing::ValuesIn(gilfree::kernels::built_simd_levels()),
                         [](const auto& param_info) {
                           return std::string(gilfree::kernels::simd_level_name(param_info.param));
                         });

TEST(SimdDispatch, DefaultIsTheWidestSupported) {
  const auto supported = gilfree::kernels::supported_simd_levels();
  ASSERT_FALSE(supported.empty());
  EXPECT_EQ(supported.front(), SimdLevel::kScalar);
  EXPECT_EQ(gilfree::kernels::active_simd_level(), supported.back());
}

TEST(SimdDispatch, SetAndRestore) {
  const SimdLevel before = gilfree::kernels::active_simd_level();
  gilfree::kernels::set_simd_level(SimdLevel::kScalar);
  EXPECT_EQ(gilfree::kernels::active_simd_level(), SimdLevel::kScalar);
  std::vector<std::int64_t> values{0, 1, -1};
  gilfree::kernels::process_numbers(values, values, 1000);
  EXPECT_EQ(values, (std::vector<std::int64_t>{376846411, 65269614, 688423208}));
  gilfree::kernels::set_simd_level(before);
  EXPECT_EQ(gilfree::kernels::active_simd_level(), before);
}

TEST(SimdDispatch, UnsupportedLevelIsRefused) {
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kSse4, SimdLevel::kAvx2,
                          SimdLevel::kAvx512, SimdLevel::kNeon}) {
    if (gilfree::kernels::simd_level_supported(level)) continue;
    EXPECT_THROW(gilfree::kernels::set_simd_level(level), std::invalid_argument);
    std::vector<std::int64_t> v{1};
    EXPECT_THROW(gilfree::kernels::process_numbers_at(level, v, v, 1), std::invalid_argument);
  }
}

TEST(KernelStopPoll, PolledOnlyForLongRunsAndHonoured) {
  std::vector<std::int64_t> values(300, 5), expected(300);
  int polls = 0;
  auto count_and_go_on = [](const void* context) noexcept {
    ++*static_cast<int*>(const_cast<void*>(context));
    return false;
  };
  EXPECT_TRUE(gilfree::kernels::process_numbers(values, values, 200, count_and_go_on, &polls));
  EXPECT_EQ(polls, 0);  // shorter than one poll interval
  gilfree::kernels::process_numbers_reference(std::vector<std::int64_t>(300, 5), expected, 200);
  EXPECT_EQ(values, expected);

  std::vector<std::int64_t> more(300, 5), more_expected(300);
  EXPECT_TRUE(gilfree::kernels::process_numbers(more, more, 5000, count_and_go_on, &polls));
  EXPECT_GT(polls, 0);
  gilfree::kernels::process_numbers_reference(std::vector<std::int64_t>(300, 5), more_expected,
                                              5000);
  EXPECT_EQ(more, more_expected);

  auto stop_now = [](const void*) noexcept { return true; };
  EXPECT_FALSE(gilfree::kernels::process_numbers(more, more, 5000, stop_now, nullptr));
}

TEST(SimdDispatch, NamesRoundTrip) {
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kSse4, SimdLevel::kAvx2,
                          SimdLevel::kAvx512, SimdLevel::kNeon}) {
    EXPECT_EQ(gilfree::kernels::parse_simd_level(gilfree::kernels::simd_level_name(level)), level);
  }
  EXPECT_EQ(gilfree::kernels::parse_simd_level("avx1024"), std::nullopt);
}

}  // namespace
