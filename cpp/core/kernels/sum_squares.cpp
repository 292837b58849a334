// Decimal formatting for the 128-bit results of sum_squares.
#include "kernels/sum_squares.hpp"

#include <algorithm>

namespace gilfree::kernels {

std::string to_decimal(uint128 value) {
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(value % 10U)));
    value /= 10U;
  } while (value != 0U);
  std::reverse(digits.begin(), digits.end());
  return digits;
}

}  // namespace gilfree::kernels
