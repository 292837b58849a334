// The process-wide Executor, guarded by a mutex; users keep it alive through shared_ptr.
#include "runtime/process_executor.hpp"

#include <atomic>
#include <mutex>

#include "runtime/cpu_info.hpp"

namespace gilfree::runtime {
namespace {

std::mutex& holder_mutex() {
  static std::mutex mu;
  return mu;
}
std::shared_ptr<Executor>& holder() {
  static std::shared_ptr<Executor> executor;
  return executor;
}
unsigned& configured_threads() {
  static unsigned threads = 0;  // 0: usable_cpus()
  return threads;
}
double& configured_max_queued_cpu_s() {
  static double max_queued_cpu_s = Executor::kUnlimited;
  return max_queued_cpu_s;
}
std::atomic<double>& inline_limit() {
  static std::atomic<double> seconds{kDefaultInlineMaxS};
  return seconds;
}
ThreadPinning& configured_pinning() {
  static ThreadPinning pinning = ThreadPinning::kAuto;
  return pinning;
}
unsigned resolved(unsigned threads) { return threads == 0 ? usable_cpus() : threads; }

std::shared_ptr<Executor> started(unsigned threads, double max_queued_cpu_s,
                                  ThreadPinning pinning) {
  const unsigned count = resolved(threads);
  return std::make_shared<Executor>(count, max_queued_cpu_s, pinned_cpus(count, pinning));
}

}  // namespace

std::vector<unsigned> pinned_cpus(unsigned threads, ThreadPinning pinning) {
  if (pinning == ThreadPinning::kNever) return {};
  std::vector<unsigned> cpus = affinity_cpu_list();
  if (pinning == ThreadPinning::kAuto && (threads < 2 || threads != cpus.size())) return {};
  return cpus;
}

std::shared_ptr<Executor> process_executor() {
  std::lock_guard lock(holder_mutex());
  auto& executor = holder();
  if (!executor) {
    executor = started(configured_threads(), configured_max_queued_cpu_s(), configured_pinning());
  }
  return executor;
}

void configure_process_executor(unsigned threads, double max_queued_cpu_s, ThreadPinning pinning) {
  std::shared_ptr<Executor> old;
  {
    std::lock_guard lock(holder_mutex());
    configured_threads() = threads;
    configured_max_queued_cpu_s() = max_queued_cpu_s;
    configured_pinning() = pinning;
    old = std::move(holder());
    holder() = started(threads, max_queued_cpu_s, pinning);
  }
  // `old` is released outside the lock: if it was the last user, joining happens here.
}

void shutdown_process_executor(std::chrono::nanoseconds grace) {
  std::shared_ptr<Executor> old;
  {
    std::lock_guard lock(holder_mutex());
    old = std::move(holder());
  }
  if (old) old->shutdown(grace);
}

unsigned process_executor_threads() {
  std::lock_guard lock(holder_mutex());
  if (holder()) return holder()->threads();
  return resolved(configured_threads());
}

double inline_max_s() noexcept { return inline_limit().load(std::memory_order_relaxed); }

void set_inline_max_s(double seconds) noexcept {
  inline_limit().store(seconds > 0 ? seconds : 0.0, std::memory_order_relaxed);
}

}  // namespace gilfree::runtime
