// process_numbers: run-time choice among the per-level builds, and the reference loop.
#include "kernels/process_numbers.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

#include "errors.hpp"
#include "kernels/process_numbers_levels.hpp"

namespace gilfree::kernels {
namespace {

using LevelFn = bool (*)(const std::int64_t*, std::int64_t*, std::size_t, std::uint64_t, StopPoll,
                         const void*) noexcept;

LevelFn level_function(SimdLevel level) noexcept {
  switch (level) {
#if defined(__x86_64__) || defined(_M_X64)
    case SimdLevel::kSse4:
      return &sse4::process_numbers;
    case SimdLevel::kAvx2:
      return &avx2::process_numbers;
    case SimdLevel::kAvx512:
      return &avx512::process_numbers;
#elif defined(__aarch64__)
    case SimdLevel::kNeon:
      return &neon::process_numbers;
#endif
    default:
      return &scalar::process_numbers;
  }
}

bool cpu_runs(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return true;
#if defined(__x86_64__) || defined(_M_X64)
    // __builtin_cpu_supports also checks that the OS saves the wider registers (XGETBV).
    case SimdLevel::kSse4:
      return __builtin_cpu_supports("sse4.2") != 0;
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") != 0;
    case SimdLevel::kAvx512:
      return __builtin_cpu_supports("avx512f") != 0 && __builtin_cpu_supports("avx512bw") != 0 &&
             __builtin_cpu_supports("avx512vl") != 0 && __builtin_cpu_supports("avx512dq") != 0;
#elif defined(__aarch64__)
    case SimdLevel::kNeon:
      return true;  // part of the arm64 baseline
#endif
    default:
      return false;
  }
}

std::atomic<SimdLevel>& active_level() {
  static std::atomic<SimdLevel> level{supported_simd_levels().back()};
  return level;
}

}  // namespace

std::string_view simd_level_name(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kSse4:
      return "sse4";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
    case SimdLevel::kNeon:
      return "neon";
  }
  return "unknown";
}

std::optional<SimdLevel> parse_simd_level(std::string_view name) noexcept {
  for (SimdLevel level : {SimdLevel::kScalar, SimdLevel::kSse4, SimdLevel::kAvx2,
                          SimdLevel::kAvx512, SimdLevel::kNeon}) {
    if (simd_level_name(level) == name) return level;
  }
  return std::nullopt;
}

std::vector<SimdLevel> built_simd_levels() {
#if defined(__x86_64__) || defined(_M_X64)
  return {SimdLevel::kScalar, SimdLevel::kSse4, SimdLevel::kAvx2, SimdLevel::kAvx512};
#elif defined(__aarch64__)
  return {SimdLevel::kScalar, SimdLevel::kNeon};
#else
  return {SimdLevel::kScalar};
#endif
}

std::vector<SimdLevel> supported_simd_levels() {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();
#endif
  std::vector<SimdLevel> levels;
  for (SimdLevel level : built_simd_levels()) {
    if (cpu_runs(level)) levels.push_back(level);
  }
  return levels;
}

bool simd_level_supported(SimdLevel level) {
  const auto levels = supported_simd_levels();
  return std::find(levels.begin(), levels.end(), level) != levels.end();
}

SimdLevel active_simd_level() noexcept { return active_level().load(std::memory_order_relaxed); }

void set_simd_level(std::string_view name) {
  const auto names = [](const std::vector<SimdLevel>& levels) {
    std::string text;
    for (SimdLevel level : levels) {
      if (!text.empty()) text += ", ";
      text += simd_level_name(level);
    }
    return text;
  };
  const auto level = parse_simd_level(name);
  const auto built = built_simd_levels();
  if (!level || std::find(built.begin(), built.end(), *level) == built.end()) {
    throw InvalidInput("unknown SIMD level '" + std::string(name) + "': this build has " +
                       names(built));
  }
  if (!simd_level_supported(*level)) {
    throw InvalidInput("SIMD level '" + std::string(name) +
                       "' is not supported by this CPU (it runs " + names(supported_simd_levels()) +
                       ")");
  }
  active_level().store(*level, std::memory_order_relaxed);
}

void set_simd_level(SimdLevel level) { set_simd_level(simd_level_name(level)); }

void process_numbers(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                     std::uint64_t iterations) noexcept {
  process_numbers(in, out, iterations, nullptr, nullptr);
}

bool process_numbers(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                     std::uint64_t iterations, StopPoll should_stop, const void* context) noexcept {
  const std::size_t n = std::min(in.size(), out.size());
  if (iterations == 0) {
    if (in.data() != out.data()) std::copy_n(in.data(), n, out.data());
    return true;
  }
  return level_function(active_simd_level())(in.data(), out.data(), n, iterations, should_stop,
                                             context);
}

void process_numbers_at(SimdLevel level, std::span<const std::int64_t> in,
                        std::span<std::int64_t> out, std::uint64_t iterations) {
  if (!simd_level_supported(level)) {
    throw std::invalid_argument("SIMD level '" + std::string(simd_level_name(level)) +
                                "' is not supported by this CPU or build");
  }
  const std::size_t n = std::min(in.size(), out.size());
  if (iterations == 0) {
    if (in.data() != out.data()) std::copy_n(in.data(), n, out.data());
    return;
  }
  level_function(level)(in.data(), out.data(), n, iterations, nullptr, nullptr);
}

void process_numbers_reference(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                               std::uint64_t iterations) noexcept {
  const std::size_t n = std::min(in.size(), out.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t v = in[i];
    for (std::uint64_t k = 0; k < iterations; ++k) v = process_step(v);
    out[i] = v;
  }
}

}  // namespace gilfree::kernels
