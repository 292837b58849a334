// Chunking policy for the kernels on the Executor.
#include "ops.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>

#include "kernels/process_numbers.hpp"

namespace gilfree::ops {

namespace {
// Steps per chunk: at roughly 0.1-1 ns per step (vectorised or not) a chunk lasts 20-200 us.
constexpr std::uint64_t kStepsPerChunk = 200'000;
constexpr std::size_t kMinGrain = 64;
constexpr std::size_t kMaxGrain = 1U << 16;

runtime::JobSpec process_numbers_spec(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                                      std::uint64_t iterations) {
  if (in.size() != out.size()) throw std::invalid_argument("input and output sizes differ");
  const std::size_t n = in.size();
  const std::size_t grain = process_numbers_grain(iterations);
  runtime::JobSpec spec;
  spec.chunks = (n + grain - 1) / grain;
  spec.cost = process_numbers_cost(n, iterations);
  spec.run_chunk = [in, out, grain, iterations](std::size_t chunk) {
    const std::size_t begin = chunk * grain;
    const std::size_t count = std::min(grain, in.size() - begin);
    kernels::process_numbers(in.subspan(begin, count), out.subspan(begin, count), iterations);
  };
  return spec;
}
}  // namespace

std::size_t process_numbers_grain(std::uint64_t iterations) noexcept {
  const std::uint64_t per_element = std::max<std::uint64_t>(iterations, 1);
  std::uint64_t grain = kStepsPerChunk / per_element;
  grain = std::clamp<std::uint64_t>(grain, kMinGrain, kMaxGrain);
  return static_cast<std::size_t>(grain / kMinGrain * kMinGrain);
}

std::uint64_t process_numbers_cost(std::size_t count, std::uint64_t iterations) noexcept {
  const auto n = static_cast<std::uint64_t>(count);
  if (iterations != 0 && n > std::numeric_limits<std::uint64_t>::max() / iterations) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return n * iterations;
}

void process_numbers(runtime::Executor& executor, std::span<const std::int64_t> in,
                     std::span<std::int64_t> out, std::uint64_t iterations) {
  if (in.size() != out.size()) throw std::invalid_argument("input and output sizes differ");
  if (in.size() <= process_numbers_grain(iterations) || iterations == 0) {
    kernels::process_numbers(in, out, iterations);
    return;
  }
  runtime::JobSpec spec = process_numbers_spec(in, out, iterations);
  executor.run(spec.chunks, std::move(spec.run_chunk), spec.cost);
}

std::shared_ptr<runtime::Job> submit_process_numbers(
    runtime::Executor& executor, std::span<const std::int64_t> in, std::span<std::int64_t> out,
    std::uint64_t iterations, std::optional<runtime::Clock::time_point> deadline,
    std::shared_ptr<runtime::CompletionSink> sink) {
  runtime::JobSpec spec = process_numbers_spec(in, out, iterations);
  spec.deadline = deadline;
  spec.sink = std::move(sink);
  return executor.submit(std::move(spec));
}

}  // namespace gilfree::ops

namespace gilfree::ops {

std::shared_ptr<runtime::Job> submit_sum_squares(runtime::Executor& executor, std::int64_t a,
                                                 std::int64_t b, kernels::uint128* out,
                                                 std::optional<runtime::Clock::time_point> deadline,
                                                 std::shared_ptr<runtime::CompletionSink> sink) {
  runtime::JobSpec spec;
  spec.chunks = 1;
  spec.cost = 1;
  spec.run_chunk = [a, b, out](std::size_t) { *out = kernels::sum_squares(a, b); };
  spec.deadline = deadline;
  spec.sink = std::move(sink);
  return executor.submit(std::move(spec));
}

}  // namespace gilfree::ops
