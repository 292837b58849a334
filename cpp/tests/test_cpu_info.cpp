// cpu_info tests: the cgroup quota parser and sanity of what the machine reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "runtime/cpu_info.hpp"

namespace {

using gilfree::runtime::parse_cpu_max;

TEST(CpuMax, Unlimited) { EXPECT_EQ(parse_cpu_max("max 100000\n"), std::nullopt); }

TEST(CpuMax, WholeAndFractionalQuotas) {
  EXPECT_EQ(parse_cpu_max("200000 100000\n"), 2U);
  EXPECT_EQ(parse_cpu_max("150000 100000"), 2U);  // 1.5 CPUs round up
  EXPECT_EQ(parse_cpu_max("50000 100000"), 1U);
}

TEST(CpuMax, Malformed) {
  EXPECT_EQ(parse_cpu_max(""), std::nullopt);
  EXPECT_EQ(parse_cpu_max("100000"), std::nullopt);
  EXPECT_EQ(parse_cpu_max("abc 100000"), std::nullopt);
  EXPECT_EQ(parse_cpu_max("100000 0"), std::nullopt);
  EXPECT_EQ(parse_cpu_max("12x 100000"), std::nullopt);
}

TEST(UsableCpus, BetweenOneAndHardware) {
  const unsigned cpus = gilfree::runtime::usable_cpus();
  EXPECT_GE(cpus, 1U);
  EXPECT_LE(cpus, std::max(1U, std::thread::hardware_concurrency()));
}

TEST(SimdFeatures, KnownNames) {
  for (const auto& name : gilfree::runtime::simd_features()) {
    EXPECT_TRUE(name == "sse4.2" || name == "avx2" || name == "avx512f" || name == "avx512bw" ||
                name == "avx512vl" || name == "neon")
        << name;
  }
}

}  // namespace
