// The one Executor of this process: created on first use, resized on request, stopped at exit.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "runtime/executor.hpp"

namespace gilfree::runtime {

// Whether the executor's workers are pinned to one CPU each.
enum class ThreadPinning {
  // Pinned when the pool has one worker for each CPU of the affinity mask (2 or more): then no
  // two workers compete for a CPU, and a woken worker runs on its own CPU at once rather than
  // where the scheduler packs it. A smaller pool (a cgroup quota, `--workers N` sharing the CPUs,
  // an explicit count) or a larger one stays free to move.
  kAuto,
  kAlways,  // every worker, in turn over the affinity mask's CPUs
  kNever,
};

// The CPUs the workers of a pool of `threads` are pinned to under `pinning`, worker i to the
// i-th (modulo its size); empty: none is pinned. The mask is the calling thread's.
[[nodiscard]] std::vector<unsigned> pinned_cpus(unsigned threads, ThreadPinning pinning);

// The process's executor, started with `usable_cpus()` workers (or the last configured count) if
// it is not running. Callers hold the shared_ptr while they use it, so a reconfiguration never
// pulls the executor from under running work.
[[nodiscard]] std::shared_ptr<Executor> process_executor();

// Replaces the executor by one with `threads` workers (0: usable_cpus()) that admits at most
// `max_queued_cpu_s` estimated CPU seconds of unfinished work. Work already admitted by the old
// one finishes; its threads are joined when its last user lets go.
// `pinning` applies to it and to the executors started later.
void configure_process_executor(unsigned threads, double max_queued_cpu_s = Executor::kUnlimited,
                                ThreadPinning pinning = ThreadPinning::kAuto);

// Stops the executor: admission ends, admitted jobs get up to `grace` to finish, the rest are
// cancelled, the workers are joined. The next process_executor() call starts a new one.
void shutdown_process_executor(std::chrono::nanoseconds grace = std::chrono::nanoseconds::zero());

// Worker count the executor has, or would have when started.
[[nodiscard]] unsigned process_executor_threads();

// Jobs whose estimated CPU time is at most this run at once on the calling thread rather than on
// the workers (Executor::run_inline): a worker's round trip and the wake-up of an event loop cost
// more than such work itself. 0: every job goes to the workers.
inline constexpr double kDefaultInlineMaxS = 10e-6;
[[nodiscard]] double inline_max_s() noexcept;
void set_inline_max_s(double seconds) noexcept;

}  // namespace gilfree::runtime
