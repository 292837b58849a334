// What the machine offers this process: usable CPUs and the SIMD instruction sets of the CPU.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace gilfree::runtime {

// CPUs this process may use: its affinity mask, capped by a cgroup v2 `cpu.max` quota (rounded
// up) on the way from its own cgroup to the root. At least 1.
[[nodiscard]] unsigned usable_cpus();

// The CPUs of the calling thread's affinity mask, in increasing order; empty where it cannot be
// read.
[[nodiscard]] std::vector<unsigned> affinity_cpu_list();

// Restricts `thread` to run on `cpu` alone; false where the system refuses (or has no such call).
bool pin_thread(std::thread& thread, unsigned cpu) noexcept;

// The CPU quota in `cpu.max` text ("max 100000" or "150000 100000"), as a whole number of CPUs
// rounded up; nullopt when there is no limit or the text is not understood.
[[nodiscard]] std::optional<unsigned> parse_cpu_max(std::string_view text);

// SIMD instruction sets this CPU offers, widest last, e.g. {"sse4.2", "avx2", "avx512f"}.
[[nodiscard]] std::vector<std::string> simd_features();

}  // namespace gilfree::runtime
