// Chunking policy for the kernels on the Executor.
#include "ops.hpp"

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "kernels/process_numbers.hpp"

namespace gilfree::ops {

namespace {
// Steps per chunk: at roughly 0.1-1 ns per step (vectorised or not) a chunk lasts 20-200 us.
constexpr std::uint64_t kStepsPerChunk = 200'000;
constexpr std::size_t kMinGrain = 64;
constexpr std::size_t kMaxGrain = 1U << 16;
}  // namespace

std::size_t process_numbers_grain(std::uint64_t iterations) noexcept {
  const std::uint64_t per_element = std::max<std::uint64_t>(iterations, 1);
  std::uint64_t grain = kStepsPerChunk / per_element;
  grain = std::clamp<std::uint64_t>(grain, kMinGrain, kMaxGrain);
  return static_cast<std::size_t>(grain / kMinGrain * kMinGrain);
}

void process_numbers(runtime::Executor& executor, std::span<const std::int64_t> in,
                     std::span<std::int64_t> out, std::uint64_t iterations) {
  if (in.size() != out.size()) throw std::invalid_argument("input and output sizes differ");
  const std::size_t n = in.size();
  const std::size_t grain = process_numbers_grain(iterations);
  if (n <= grain || iterations == 0) {
    kernels::process_numbers(in, out, iterations);
    return;
  }
  const std::size_t chunks = (n + grain - 1) / grain;
  executor.run(chunks, [&](std::size_t chunk) {
    const std::size_t begin = chunk * grain;
    const std::size_t count = std::min(grain, n - begin);
    kernels::process_numbers(in.subspan(begin, count), out.subspan(begin, count), iterations);
  });
}

}  // namespace gilfree::ops
