// gilfree's own kernels as jobs of the public kernel API (<gilfree/kernel.hpp>): process_numbers
// cut into chunks and slices, and sum_squares. They reach the executor through the C boundary
// only, exactly as a user's kernels do.
#pragma once

#include <gilfree/kernel.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/sum_squares.hpp"

namespace gilfree::ops {

inline constexpr Kernel kProcessNumbers{"process_numbers"};
inline constexpr Kernel kSumSquares{"sum_squares"};

// Elements per chunk so that one chunk is roughly 100 microseconds of work at the active SIMD
// level (a multiple of 256, at least 256): short enough that workers share fairly between jobs,
// long enough to amortise scheduling. Chunks of huge `iterations` stop early when cancelled.
[[nodiscard]] std::size_t process_numbers_grain(std::uint64_t iterations) noexcept;

// A kernels::StopPoll whose context is a gilfree::Chunk: true once its job is cancelled or past
// its deadline (the job then ends as such).
[[nodiscard]] bool stop_requested(const void* chunk) noexcept;

// Steps of process_numbers (numbers x iterations, saturating): the size limits (max_work) count
// these.
[[nodiscard]] std::uint64_t process_numbers_steps(std::size_t count,
                                                  std::uint64_t iterations) noexcept;
// Declared CPU seconds of one step at the active SIMD level.
[[nodiscard]] double process_numbers_step_s() noexcept;
// Declared CPU seconds of process_numbers over `count` numbers at the active SIMD level: a step
// per number and iteration (iterations = 0 still copies), each iteration of a block of 256 numbers
// costing at least one step's latency.
[[nodiscard]] double process_numbers_cost_s(std::size_t count, std::uint64_t iterations) noexcept;

// process_numbers over `in` into `out` (same size, may alias exactly) cut into chunks of one grain
// of elements, each run in slices of iterations that last about one chunk's time: the pieces of
// every job that runs process_numbers. A chunk's slices may run on different workers, one at a
// time (the executor orders them); different chunks run at once.
class ProcessNumbersChunks {
 public:
  ProcessNumbersChunks(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                       std::uint64_t iterations);

  [[nodiscard]] std::size_t chunks() const noexcept { return chunks_; }
  [[nodiscard]] double cost_s() const noexcept;
  // The elements of `chunk` in the output.
  [[nodiscard]] std::span<std::int64_t> output(std::size_t chunk) const noexcept;

  // Runs the next slice of `chunk`. True once the chunk is complete; false when it stopped early
  // (the job is cancelled or past its deadline) or asked `context` to run it again.
  bool run(std::size_t chunk, Chunk& context);

 private:
  std::span<const std::int64_t> in_;
  std::span<std::int64_t> out_;
  std::uint64_t iterations_;
  std::size_t grain_;
  std::size_t chunks_;
  std::uint64_t slice_;
  std::vector<std::uint64_t> done_;  // iterations each chunk has run
};

// A job: process_numbers from `in` into `out` (same size, may alias exactly), which must outlive
// it. The result never depends on the thread count or the chunking.
class ProcessNumbers {
 public:
  ProcessNumbers(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                 std::uint64_t iterations)
      : chunks_(in, out, iterations) {}

  // An empty input is still a job of one (empty) chunk.
  [[nodiscard]] std::size_t chunks() const noexcept {
    return chunks_.chunks() > 0 ? chunks_.chunks() : 1;
  }
  [[nodiscard]] double cost_s() const noexcept { return chunks_.cost_s(); }
  void run(std::size_t chunk, Chunk& context) {
    if (chunk < chunks_.chunks()) chunks_.run(chunk, context);
  }

 private:
  ProcessNumbersChunks chunks_;
};

// A job: the exact a*a + b*b of two int64.
class SumSquares {
 public:
  SumSquares(std::int64_t a, std::int64_t b) noexcept : a_(a), b_(b) {}

  [[nodiscard]] double cost_s() const noexcept { return 20e-9; }
  void run(std::size_t /*chunk*/, Chunk& /*context*/) noexcept {
    sum_ = kernels::sum_squares(a_, b_);
  }
  [[nodiscard]] kernels::uint128 sum() const noexcept { return sum_; }

 private:
  std::int64_t a_;
  std::int64_t b_;
  kernels::uint128 sum_ = 0;
};

}  // namespace gilfree::ops
