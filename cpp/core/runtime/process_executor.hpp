// The one Executor of this process: created on first use, resized on request, stopped at exit.
#pragma once

#include <chrono>
#include <memory>

#include "runtime/executor.hpp"

namespace gilfree::runtime {

// The process's executor, started with `usable_cpus()` workers (or the last configured count) if
// it is not running. Callers hold the shared_ptr while they use it, so a reconfiguration never
// pulls the executor from under running work.
[[nodiscard]] std::shared_ptr<Executor> process_executor();

// Replaces the executor by one with `threads` workers (0: usable_cpus()) that admits at most
// `max_queued_cpu_s` estimated CPU seconds of unfinished work. Work already admitted by the old
// one finishes; its threads are joined when its last user lets go.
void configure_process_executor(unsigned threads, double max_queued_cpu_s = Executor::kUnlimited);

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
