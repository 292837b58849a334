// The process's executor: configured, held while reconfigured, shut down and restarted.
#include <gtest/gtest.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/cpu_info.hpp"
#include "runtime/executor.hpp"
#include "runtime/process_executor.hpp"

namespace {

using gilfree::runtime::affinity_cpu_list;
using gilfree::runtime::ChunkContext;
using gilfree::runtime::Executor;
using gilfree::runtime::pinned_cpus;
using gilfree::runtime::ThreadPinning;

// The CPUs each worker of `executor` may run on, one entry per worker: its `threads()` chunks wait
// for one another, so that each worker runs exactly one.
std::vector<std::vector<unsigned>> worker_masks(Executor& executor) {
  const unsigned threads = executor.threads();
  std::mutex mu;
  std::vector<std::vector<unsigned>> masks;
  std::atomic<unsigned> arrived{0};
  executor.run(threads, [&](std::size_t, const ChunkContext&) {
    {
      std::lock_guard lock(mu);
      masks.push_back(affinity_cpu_list());
    }
    arrived.fetch_add(1);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (arrived.load() < threads && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::yield();
    }
  });
  EXPECT_EQ(arrived.load(), threads);
  return masks;
}

TEST(ThreadPinning, AutoPinsOneWorkerPerCpuOfTheMask) {
  const std::vector<unsigned> mask = affinity_cpu_list();
  ASSERT_FALSE(mask.empty());
  const auto threads = static_cast<unsigned>(mask.size());
  EXPECT_TRUE(pinned_cpus(1, ThreadPinning::kAuto).empty());
  EXPECT_TRUE(pinned_cpus(threads + 1, ThreadPinning::kAuto).empty());
  EXPECT_TRUE(pinned_cpus(threads, ThreadPinning::kNever).empty());
  EXPECT_EQ(pinned_cpus(threads, ThreadPinning::kAuto),
            threads >= 2 ? mask : std::vector<unsigned>{});
  EXPECT_EQ(pinned_cpus(1, ThreadPinning::kAlways), mask);
  EXPECT_EQ(pinned_cpus(threads + 3, ThreadPinning::kAlways), mask);
}

TEST(ThreadPinning, PinnedWorkersRunOnOneCpuEach) {
  const std::vector<unsigned> mask = affinity_cpu_list();
  const auto threads = static_cast<unsigned>(mask.size()) + 1;  // one CPU gets two workers
  Executor pinned(threads, Executor::kUnlimited, mask);
  EXPECT_EQ(pinned.stats().pinned_threads, threads);
  std::vector<unsigned> seen;
  for (const auto& cpus : worker_masks(pinned)) {
    ASSERT_EQ(cpus.size(), 1U);
    seen.push_back(cpus[0]);
  }
  std::sort(seen.begin(), seen.end());
  std::vector<unsigned> expected(mask);  // each CPU once, and the first CPU twice
  expected.push_back(mask[0]);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);

  Executor free(threads);
  EXPECT_EQ(free.stats().pinned_threads, 0U);
  for (const auto& cpus : worker_masks(free)) EXPECT_EQ(cpus, mask);
}

TEST(ThreadPinning, ARefusedCpuLeavesItsWorkerFree) {
  Executor executor(2, Executor::kUnlimited, {CPU_SETSIZE + 5U});
  EXPECT_EQ(executor.stats().pinned_threads, 0U);
}

TEST(ThreadPinning, TheProcessExecutorKeepsItsPolicy) {
  const auto cpus = static_cast<unsigned>(affinity_cpu_list().size());
  gilfree::runtime::configure_process_executor(cpus, Executor::kUnlimited, ThreadPinning::kNever);
  EXPECT_EQ(gilfree::runtime::process_executor()->stats().pinned_threads, 0U);
  gilfree::runtime::shutdown_process_executor();  // the next one has the same policy
  EXPECT_EQ(gilfree::runtime::process_executor()->stats().pinned_threads, 0U);
  gilfree::runtime::configure_process_executor(cpus, Executor::kUnlimited, ThreadPinning::kAlways);
  EXPECT_EQ(gilfree::runtime::process_executor()->stats().pinned_threads, cpus);
  gilfree::runtime::configure_process_executor(0);  // back to the default: usable CPUs, kAuto
  gilfree::runtime::shutdown_process_executor();
}

TEST(ProcessExecutor, ConfigureAndShutdown) {
  gilfree::runtime::configure_process_executor(3);
  EXPECT_EQ(gilfree::runtime::process_executor_threads(), 3U);
  auto held = gilfree::runtime::process_executor();
  gilfree::runtime::configure_process_executor(2);  // the held executor stays usable
  std::atomic<int> ran{0};
  held->run(10, [&](std::size_t, const ChunkContext&) { ran.fetch_add(1); });
  EXPECT_EQ(ran.load(), 10);
  EXPECT_EQ(gilfree::runtime::process_executor()->threads(), 2U);
  gilfree::runtime::shutdown_process_executor();
  EXPECT_EQ(gilfree::runtime::process_executor_threads(),
            2U);  // restarts with the configured count
  EXPECT_EQ(gilfree::runtime::process_executor()->threads(), 2U);
  gilfree::runtime::shutdown_process_executor();
}

}  // namespace
