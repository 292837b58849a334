// The process_numbers kernel: CONTRACT section 1, every step performed, exact for any int64 input.
#pragma once

#include <cstdint>
#include <span>

namespace gilfree::kernels {

inline constexpr std::int64_t kModulus = 1'000'000'007;

// One step of the contract's recurrence on an arbitrary int64: wrapping add, wrapping multiply,
// remainder with the sign of the dividend. The reference for everything faster below.
[[nodiscard]] constexpr std::int64_t process_step(std::int64_t v) noexcept {
  // Unsigned arithmetic wraps by definition; C++20 defines the conversion back to int64 as
  // two's complement, so this is exactly Rust's wrapping_add/wrapping_mul.
  const std::uint64_t t = (static_cast<std::uint64_t>(v) + 1U) * 2U;
  return static_cast<std::int64_t>(t) % kModulus;
}

// Applies `iterations` steps to each element of `in`, writing `out`. `in` and `out` have the same
// size and may be the same memory (in place); they must not otherwise overlap.
void process_numbers(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                     std::uint64_t iterations) noexcept;

// The plain one-element-at-a-time loop, kept as an oracle for tests and benchmarks.
void process_numbers_scalar(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                            std::uint64_t iterations) noexcept;

}  // namespace gilfree::kernels
