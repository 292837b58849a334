// gilfree's kernels as public-API jobs: chunking, slicing and declared costs.
#include "ops.hpp"

#include <algorithm>
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
// A multiple of every level's block (at most 256 elements in lock step) keeps every lane busy; a
// chunk longer than ~100 us (huge `iterations`) stays responsive through the kernel's stop polls.
constexpr std::size_t kMinGrain = 256;
constexpr std::size_t kMaxGrain = 1U << 16;
// What a chunk of steps_per_chunk() steps should last.
constexpr double kChunkSeconds = 100e-6;
// Each iteration of a block of the kernel costs at least one step's latency, however few of its
// lanes are used: a handful of numbers costs about what 64 cost at the AVX-512 level (measured on
// x86-64: ~7 ns an iteration for 1 to 17 numbers, ~9.5 ns for 64, ~31 ns for 256).
constexpr double kBlockIterationFloorSeconds = 4e-9;

}  // namespace

bool stop_requested(const void* chunk) noexcept {
  return static_cast<const Chunk*>(chunk)->stop_requested();
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

double ProcessNumbersChunks::cost_s() const noexcept {
  return process_numbers_cost_s(in_.size(), iterations_);
}

std::span<std::int64_t> ProcessNumbersChunks::output(std::size_t chunk) const noexcept {
  const std::size_t begin = chunk * grain_;
  return out_.subspan(begin, std::min(grain_, out_.size() - begin));
}

bool ProcessNumbersChunks::run(std::size_t chunk, Chunk& context) {
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

std::uint64_t process_numbers_steps(std::size_t count, std::uint64_t iterations) noexcept {
  const auto n = static_cast<std::uint64_t>(count);
  if (iterations != 0 && n > std::numeric_limits<std::uint64_t>::max() / iterations) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return n * iterations;
}

double process_numbers_step_s() noexcept {
  return kChunkSeconds / static_cast<double>(steps_per_chunk(kernels::active_simd_level()));
}

double process_numbers_cost_s(std::size_t count, std::uint64_t iterations) noexcept {
  const double step = process_numbers_step_s();
  const auto block_iteration = [step](std::size_t numbers) {
    return std::max(static_cast<double>(numbers) * step, kBlockIterationFloorSeconds);
  };
  const std::size_t full = count / kMinGrain;
  const std::size_t tail = count % kMinGrain;
  const double per_iteration = static_cast<double>(full) * block_iteration(kMinGrain) +
                               (tail > 0 ? block_iteration(tail) : 0.0);
  return static_cast<double>(std::max<std::uint64_t>(iterations, 1)) * per_iteration;
}

}  // namespace gilfree::ops
