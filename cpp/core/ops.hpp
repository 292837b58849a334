// Operations: the kernels cut into chunks and scheduled on an Executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "kernels/sum_squares.hpp"
#include "runtime/executor.hpp"

namespace gilfree::ops {

// Elements per chunk so that one chunk is roughly 100 microseconds of work at the active SIMD
// level (a multiple of 256, at least 256): short enough that workers share fairly between jobs,
// long enough to amortise scheduling. Chunks of huge `iterations` stop early when cancelled.
[[nodiscard]] std::size_t process_numbers_grain(std::uint64_t iterations) noexcept;

// A kernels::StopPoll whose context is a runtime::ChunkContext: true once its job is cancelled
// or past its deadline (the job then ends as such).
[[nodiscard]] bool stop_requested(const void* chunk_context) noexcept;

// Work units of process_numbers for admission: numbers x iterations.
[[nodiscard]] std::uint64_t process_numbers_cost(std::size_t count,
                                                 std::uint64_t iterations) noexcept;

// process_numbers over `in` into `out` (same size, may alias exactly) cut into chunks of one grain
// of elements, each run in slices of iterations that last about one chunk's time: the pieces of
// every job that runs process_numbers. A chunk's slices may run on different workers, one at a
// time (the executor orders them); different chunks run at once.
class ProcessNumbersChunks {
 public:
  ProcessNumbersChunks(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                       std::uint64_t iterations);

  [[nodiscard]] std::size_t chunks() const noexcept { return chunks_; }
  [[nodiscard]] std::uint64_t cost() const noexcept;
  // The elements of `chunk` in the output.
  [[nodiscard]] std::span<std::int64_t> output(std::size_t chunk) const noexcept;

  // Runs the next slice of `chunk`. True once the chunk is complete; false when it stopped early
  // (the job is cancelled or past its deadline) or asked `context` to run it again.
  bool run(std::size_t chunk, runtime::ChunkContext& context);

 private:
  std::span<const std::int64_t> in_;
  std::span<std::int64_t> out_;
  std::uint64_t iterations_;
  std::size_t grain_;
  std::size_t chunks_;
  std::uint64_t slice_;
  std::vector<std::uint64_t> done_;  // iterations each chunk has run
};

// process_numbers over `in` into `out` (same size, may alias exactly), on the executor's workers,
// blocking until done. Inputs smaller than one chunk run on the calling thread. The result never
// depends on the thread count or the chunking.
void process_numbers(runtime::Executor& executor, std::span<const std::int64_t> in,
                     std::span<std::int64_t> out, std::uint64_t iterations);

// The same as a job that runs entirely on the workers and reports to `sink`. `in` and `out` must
// stay valid until the job is finished. Throws OverloadedError if the executor refuses it.
std::shared_ptr<runtime::Job> submit_process_numbers(
    runtime::Executor& executor, std::span<const std::int64_t> in, std::span<std::int64_t> out,
    std::uint64_t iterations, std::optional<runtime::Clock::time_point> deadline,
    std::shared_ptr<runtime::CompletionSink> sink);

}  // namespace gilfree::ops

namespace gilfree::ops {

// sum_squares as a one-chunk job writing `*out`, which must stay valid until the job finishes.
std::shared_ptr<runtime::Job> submit_sum_squares(runtime::Executor& executor, std::int64_t a,
                                                 std::int64_t b, kernels::uint128* out,
                                                 std::optional<runtime::Clock::time_point> deadline,
                                                 std::shared_ptr<runtime::CompletionSink> sink);

}  // namespace gilfree::ops

namespace gilfree::ops {

// Runs `work` as a one-chunk job (for the wire codecs: parsing a body, writing a response).
std::shared_ptr<runtime::Job> submit_task(runtime::Executor& executor, std::function<void()> work,
                                          std::uint64_t cost,
                                          std::optional<runtime::Clock::time_point> deadline,
                                          std::shared_ptr<runtime::CompletionSink> sink);

}  // namespace gilfree::ops
