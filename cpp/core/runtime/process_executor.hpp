// The one Executor of this process: created on first use, resized on request, stopped at exit.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "runtime/executor.hpp"

namespace gilfree::runtime {

// The process's executor, started with `usable_cpus()` workers (or the last configured count) if
// it is not running. Callers hold the shared_ptr while they use it, so a reconfiguration never
// pulls the executor from under running work.
[[nodiscard]] std::shared_ptr<Executor> process_executor();

// Replaces the executor by one with `threads` workers (0: usable_cpus()) that admits at most
// `max_queued_work` units of unfinished work. Work already admitted by the old one finishes; its
// threads are joined when its last user lets go.
void configure_process_executor(unsigned threads,
                                std::uint64_t max_queued_work = Executor::kUnlimited);

// Stops the executor: admission ends, admitted jobs get up to `grace` to finish, the rest are
// cancelled, the workers are joined. The next process_executor() call starts a new one.
void shutdown_process_executor(std::chrono::nanoseconds grace = std::chrono::nanoseconds::zero());

// Worker count the executor has, or would have when started.
[[nodiscard]] unsigned process_executor_threads();

}  // namespace gilfree::runtime
