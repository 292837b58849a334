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
unsigned resolved(unsigned threads) { return threads == 0 ? usable_cpus() : threads; }

}  // namespace

std::shared_ptr<Executor> process_executor() {
  std::lock_guard lock(holder_mutex());
  auto& executor = holder();
  if (!executor) {
    executor =
        std::make_shared<Executor>(resolved(configured_threads()), configured_max_queued_cpu_s());
  }
  return executor;
}

void configure_process_executor(unsigned threads, double max_queued_cpu_s) {
  std::shared_ptr<Executor> old;
  {
    std::lock_guard lock(holder_mutex());
    configured_threads() = threads;
    configured_max_queued_cpu_s() = max_queued_cpu_s;
    old = std::move(holder());
    holder() = std::make_shared<Executor>(resolved(threads), max_queued_cpu_s);
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
