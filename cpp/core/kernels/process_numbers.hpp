// The process_numbers kernel: docs/semantics.md section 1, every step performed, exact for any
// int64 input, vectorised at the widest SIMD level the CPU offers (chosen at run time, never at
// build time).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "kernels/stop_poll.hpp"

namespace gilfree::kernels {

inline constexpr std::int64_t kModulus = 1'000'000'007;

// One step of the contract's recurrence on an arbitrary int64: wrapping add, wrapping multiply,
// remainder with the sign of the dividend.
[[nodiscard]] constexpr std::int64_t process_step(std::int64_t v) noexcept {
  // Unsigned arithmetic wraps by definition; C++20 defines the conversion back to int64 as
  // two's complement, so this is exactly Rust's wrapping_add/wrapping_mul.
  const std::uint64_t t = (static_cast<std::uint64_t>(v) + 1U) * 2U;
  return static_cast<std::int64_t>(t) % kModulus;
}

// Instruction sets the kernel has a build for. Results are identical at every level.
enum class SimdLevel : std::uint8_t { kScalar, kSse4, kAvx2, kAvx512, kNeon };

[[nodiscard]] std::string_view simd_level_name(SimdLevel level) noexcept;  // "avx2", ...
[[nodiscard]] std::optional<SimdLevel> parse_simd_level(std::string_view name) noexcept;
// Levels built for this architecture, narrowest first.
[[nodiscard]] std::vector<SimdLevel> built_simd_levels();
// Built levels this CPU (and OS) can run, narrowest first; always includes kScalar.
[[nodiscard]] std::vector<SimdLevel> supported_simd_levels();
[[nodiscard]] bool simd_level_supported(SimdLevel level);

// The level process_numbers uses: the widest supported one unless set_simd_level chose another.
[[nodiscard]] SimdLevel active_simd_level() noexcept;
// Chooses the level by name: InvalidInput (a std::invalid_argument) naming the choices if this
// build has no such level or the CPU cannot run it. Safe while kernels run: each call of
// process_numbers reads the level once.
void set_simd_level(std::string_view name);
void set_simd_level(SimdLevel level);  // the same, by value

// Applies `iterations` steps to each element of `in`, writing `out`, at the active level. `in`
// and `out` have the same size and may be the same memory; they must not otherwise overlap.
void process_numbers(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                     std::uint64_t iterations) noexcept;

// The same, polling `should_stop(context)` every few microseconds of work; returns false (and
// leaves `out` unfinished) if it said to stop.
bool process_numbers(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                     std::uint64_t iterations, StopPoll should_stop, const void* context) noexcept;

// The same at a given supported level (for tests and benchmarks).
void process_numbers_at(SimdLevel level, std::span<const std::int64_t> in,
                        std::span<std::int64_t> out, std::uint64_t iterations);

// The plain one-element-at-a-time loop on int64, the way the original example wrote it: the
// oracle for tests and the simple peer in benchmarks.
void process_numbers_reference(std::span<const std::int64_t> in, std::span<std::int64_t> out,
                               std::uint64_t iterations) noexcept;

}  // namespace gilfree::kernels
