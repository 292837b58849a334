// The sum_squares kernel: the exact a*a + b*b of two int64, in 128-bit unsigned arithmetic.
#pragma once

#include <cstdint>
#include <string>

namespace gilfree::kernels {

__extension__ using uint128 = unsigned __int128;

// Exact: |a|, |b| <= 2^63, so the sum is at most 2^127 and always fits.
[[nodiscard]] constexpr uint128 sum_squares(std::int64_t a, std::int64_t b) noexcept {
  // Magnitudes through unsigned negation: well defined even for INT64_MIN.
  const std::uint64_t ua =
      a < 0 ? 0U - static_cast<std::uint64_t>(a) : static_cast<std::uint64_t>(a);
  const std::uint64_t ub =
      b < 0 ? 0U - static_cast<std::uint64_t>(b) : static_cast<std::uint64_t>(b);
  return static_cast<uint128>(ua) * ua + static_cast<uint128>(ub) * ub;
}

// Decimal text of an unsigned 128-bit integer.
[[nodiscard]] std::string to_decimal(uint128 value);

}  // namespace gilfree::kernels
