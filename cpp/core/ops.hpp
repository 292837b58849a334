// Operations: the kernels cut into chunks and scheduled on an Executor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "runtime/executor.hpp"

namespace gilfree::ops {

// Elements per chunk so that one chunk is roughly 100 microseconds of work (a multiple of 64,
// at least 64): short enough that workers share fairly, long enough to amortise scheduling.
[[nodiscard]] std::size_t process_numbers_grain(std::uint64_t iterations) noexcept;

// process_numbers over `in` into `out` (same size, may alias exactly), on the executor's workers.
// Inputs smaller than one chunk run on the calling thread. The result never depends on the
// thread count or the chunking.
void process_numbers(runtime::Executor& executor, std::span<const std::int64_t> in,
                     std::span<std::int64_t> out, std::uint64_t iterations);

}  // namespace gilfree::ops
