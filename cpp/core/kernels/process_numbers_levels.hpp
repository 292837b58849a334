// The per-level entry points of process_numbers (private to the kernels; use process_numbers.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/stop_poll.hpp"

// Returns false if `should_stop` (polled between steps when given) asked to stop early.
#define GILFREE_DECLARE_LEVEL(level)                                             \
  namespace gilfree::kernels::level {                                            \
  bool process_numbers(const std::int64_t* in, std::int64_t* out, std::size_t n, \
                       std::uint64_t iterations, StopPoll should_stop,           \
                       const void* context) noexcept;                            \
  }

GILFREE_DECLARE_LEVEL(scalar)
#if defined(__x86_64__) || defined(_M_X64)
GILFREE_DECLARE_LEVEL(sse4)
GILFREE_DECLARE_LEVEL(avx2)
GILFREE_DECLARE_LEVEL(avx512)
#elif defined(__aarch64__)
GILFREE_DECLARE_LEVEL(neon)
#endif

#undef GILFREE_DECLARE_LEVEL
