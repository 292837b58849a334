// The process-wide Executor, guarded by a mutex; users keep it alive through shared_ptr.
#include "runtime/process_executor.hpp"

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
std::uint64_t& configured_max_queued_work() {
  static std::uint64_t max_queued_work = Executor::kUnlimited;
  return max_queued_work;
}
unsigned resolved(unsigned threads) { return threads == 0 ? usable_cpus() : threads; }

}  // namespace

std::shared_ptr<Executor> process_executor() {
  std::lock_guard lock(holder_mutex());
  auto& executor = holder();
  if (!executor) {
    executor =
        std::make_shared<Executor>(resolved(configured_threads()), configured_max_queued_work());
  }
  return executor;
}

void configure_process_executor(unsigned threads, std::uint64_t max_queued_work) {
  std::shared_ptr<Executor> old;
  {
    std::lock_guard lock(holder_mutex());
    configured_threads() = threads;
    configured_max_queued_work() = max_queued_work;
    old = std::move(holder());
    holder() = std::make_shared<Executor>(resolved(threads), max_queued_work);
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

}  // namespace gilfree::runtime
