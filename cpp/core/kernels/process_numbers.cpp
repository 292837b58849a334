// process_numbers: blocks of independent elements advanced in lock step so the compiler vectorises.
#include "kernels/process_numbers.hpp"

#include <algorithm>
#include <array>
#include <cstddef>

namespace gilfree::kernels {
namespace {

// After the first step every value lies in (-P, P), so 2 * (v + 1) lies in [-2P + 4, 2P]: that
// fits in int32 (2P < 2^31), and the truncated remainder is at most two conditional subtractions
// for a positive value (2P -> P -> 0) and one conditional addition for a negative one. Same
// result as `%`, every step still performed, and 32-bit lanes double the vector width.
constexpr std::int32_t kModulus32 = static_cast<std::int32_t>(kModulus);
static_assert(2 * kModulus < (std::int64_t{1} << 31), "reduced values must fit in int32");

constexpr std::size_t kBlock = 256;

inline std::int32_t reduced_step(std::int32_t v) noexcept {
  std::int32_t t = (v + 1) * 2;
  t -= (t >= kModulus32) ? kModulus32 : 0;
  t -= (t >= kModulus32) ? kModulus32 : 0;
  t += (t <= -kModulus32) ? kModulus32 : 0;
  return t;
}

void process_block(const std::int64_t* in, std::int64_t* out, std::size_t n,
                   std::uint64_t iterations) noexcept {
  alignas(64) std::array<std::int32_t, kBlock> lanes{};
  for (std::size_t j = 0; j < n; ++j) {
    lanes[j] = static_cast<std::int32_t>(process_step(in[j]));
  }
  for (std::uint64_t k = 1; k < iterations; ++k) {
    // Fixed trip count over the whole block (a tail block computes unused lanes harmlessly) keeps
    // this loop branch-free and vectorisable.
    for (std::size_t j = 0; j < kBlock; ++j) {
      lanes[j] = reduced_step(lanes[j]);
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    out[j] = lanes[j];
  }
}

}  // namespace

void process_numbers(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                     std::uint64_t iterations) noexcept {
  const std::size_t n = std::min(in.size(), out.size());
  if (iterations == 0) {
    if (in.data() != out.data()) std::copy_n(in.data(), n, out.data());
    return;
  }
  for (std::size_t i = 0; i < n; i += kBlock) {
    process_block(in.data() + i, out.data() + i, std::min(kBlock, n - i), iterations);
  }
}

void process_numbers_scalar(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                            std::uint64_t iterations) noexcept {
  const std::size_t n = std::min(in.size(), out.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t v = in[i];
    for (std::uint64_t k = 0; k < iterations; ++k) v = process_step(v);
    out[i] = v;
  }
}

}  // namespace gilfree::kernels
