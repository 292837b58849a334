// Chunking policy for the kernels on the Executor.
#include "ops.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/process_numbers.hpp"

namespace gilfree::ops {

namespace {
// A chunk should last about 100 us: long enough that taking it (one lock) costs under 1%, short
// enough that workers share fairly between jobs. Steps per chunk at each level's cost per step
// (measured on x86-64 servers, rounded down to stay short on slower machines).
constexpr std::uint64_t steps_per_chunk(kernels::SimdLevel level) noexcept {
  switch (level) {
    case kernels::SimdLevel::kScalar:
      return 40'000;  // ~2.5 ns per step
    case kernels::SimdLevel::kSse4:
    case kernels::SimdLevel::kNeon:
      return 400'000;  // ~0.25 ns
    case kernels::SimdLevel::kAvx2:
      return 800'000;  // ~0.12 ns
    case kernels::SimdLevel::kAvx512:
      return 1'600'000;  // ~0.06 ns
  }
  return 40'000;
}
// Whole blocks of the kernel (256 elements in lock step) keep every vector lane busy; a chunk
// longer than ~100 us (huge `iterations`) stays responsive through the kernel's stop polls.
constexpr std::size_t kMinGrain = 256;
constexpr std::size_t kMaxGrain = 1U << 16;

runtime::JobSpec process_numbers_spec(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                                      std::uint64_t iterations) {
  auto chunks = std::make_shared<ProcessNumbersChunks>(in, out, iterations);
  runtime::JobSpec spec;
  spec.chunks = chunks->chunks();
  spec.cost = chunks->cost();
  spec.run_chunk = [chunks](std::size_t chunk, runtime::ChunkContext& context) {
    chunks->run(chunk, context);
  };
  return spec;
}
}  // namespace

bool stop_requested(const void* chunk_context) noexcept {
  return static_cast<const runtime::ChunkContext*>(chunk_context)->stop_requested();
}

ProcessNumbersChunks::ProcessNumbersChunks(std::span<const std::int64_t> in,
                                           std::span<std::int64_t> out, std::uint64_t iterations)
    : in_(in),
      out_(out),
      iterations_(iterations),
      grain_(process_numbers_grain(iterations)),
      chunks_((in.size() + grain_ - 1) / grain_),
      // Iterations per run of a chunk, so that a run lasts about as long as a chunk should; a
      // chunk of more runs keeps its progress in done_ and is run again in turn with the other
      // jobs' chunks.
      slice_(std::max<std::uint64_t>(1, steps_per_chunk(kernels::active_simd_level()) / grain_)),
      done_(chunks_, 0) {
  if (in.size() != out.size()) throw std::invalid_argument("input and output sizes differ");
}

std::uint64_t ProcessNumbersChunks::cost() const noexcept {
  return process_numbers_cost(in_.size(), iterations_);
}

std::span<std::int64_t> ProcessNumbersChunks::output(std::size_t chunk) const noexcept {
  const std::size_t begin = chunk * grain_;
  return out_.subspan(begin, std::min(grain_, out_.size() - begin));
}

bool ProcessNumbersChunks::run(std::size_t chunk, runtime::ChunkContext& context) {
  const std::size_t begin = chunk * grain_;
  const std::size_t count = std::min(grain_, in_.size() - begin);
  std::uint64_t& done_here = done_[chunk];
  const std::uint64_t now = std::min(slice_, iterations_ - done_here);
  // The first run reads the input; later runs continue from the values they left in `out`.
  const auto from = done_here == 0 ? in_.subspan(begin, count)
                                   : std::span<const std::int64_t>(out_.subspan(begin, count));
  if (!kernels::process_numbers(from, out_.subspan(begin, count), now, &stop_requested, &context)) {
    return false;  // stopped early: the job ends as cancelled or past its deadline
  }
  done_here += now;
  if (done_here < iterations_) {
    context.run_again();
    return false;
  }
  return true;
}

std::size_t process_numbers_grain(std::uint64_t iterations) noexcept {
  const std::uint64_t per_element = std::max<std::uint64_t>(iterations, 1);
  std::uint64_t grain = steps_per_chunk(kernels::active_simd_level()) / per_element;
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
  spec.run_chunk = [a, b, out](std::size_t, const runtime::ChunkContext&) {
    *out = kernels::sum_squares(a, b);
  };
  spec.deadline = deadline;
  spec.sink = std::move(sink);
  return executor.submit(std::move(spec));
}

}  // namespace gilfree::ops

namespace gilfree::ops {

std::shared_ptr<runtime::Job> submit_task(runtime::Executor& executor, std::function<void()> work,
                                          std::uint64_t cost,
                                          std::optional<runtime::Clock::time_point> deadline,
                                          std::shared_ptr<runtime::CompletionSink> sink) {
  runtime::JobSpec spec;
  spec.chunks = 1;
  spec.cost = cost;
  spec.run_chunk = [work = std::move(work)](std::size_t, runtime::ChunkContext&) { work(); };
  spec.deadline = deadline;
  spec.sink = std::move(sink);
  return executor.submit(std::move(spec));
}

}  // namespace gilfree::ops
