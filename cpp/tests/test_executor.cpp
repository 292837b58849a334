// Executor tests: every chunk run once, on several named workers, errors, concurrent callers
// (the jobs' semantics are in test_executor_jobs.cpp).
#include <gtest/gtest.h>

#if defined(__linux__)
#include <pthread.h>
#endif

#include <atomic>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "runtime/executor.hpp"

namespace {

using gilfree::runtime::ChunkContext;
using gilfree::runtime::Executor;

TEST(Executor, RejectsZeroThreads) { EXPECT_THROW(Executor(0), std::invalid_argument); }

TEST(Executor, RunsEveryChunkExactlyOnce) {
  Executor executor(3);
  constexpr std::size_t kChunks = 1000;
  std::vector<std::atomic<int>> hits(kChunks);
  executor.run(kChunks, [&](std::size_t i, const ChunkContext&) { hits[i].fetch_add(1); });
  for (std::size_t i = 0; i < kChunks; ++i) EXPECT_EQ(hits[i].load(), 1) << i;
}

TEST(Executor, UsesSeveralWorkers) {
  Executor executor(4);
  std::mutex mu;
  std::set<std::thread::id> seen;
  std::atomic<int> arrived{0};
  // Each chunk waits until four chunks run at once: possible only with four workers.
  executor.run(4, [&](std::size_t, const ChunkContext&) {
    {
      std::lock_guard lock(mu);
      seen.insert(std::this_thread::get_id());
    }
    arrived.fetch_add(1);
    while (arrived.load() < 4) std::this_thread::yield();
  });
  EXPECT_EQ(seen.size(), 4U);
}

#if defined(__linux__)
TEST(Executor, WorkersAreNamed) {
  Executor executor(2);
  std::string name;
  executor.run(1, [&](std::size_t, const ChunkContext&) {
    char buffer[16] = {};
    pthread_getname_np(pthread_self(), buffer, sizeof(buffer));
    name = buffer;
  });
  EXPECT_EQ(name, "gilfree-worker");
}
#endif

TEST(Executor, ZeroChunksReturnsAtOnce) {
  Executor executor(2);
  bool ran = false;
  executor.run(0, [&](std::size_t, const ChunkContext&) { ran = true; });
  EXPECT_FALSE(ran);
}

TEST(Executor, ExceptionReachesCallerAndSkipsTheRest) {
  Executor executor(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(executor.run(10000,
                            [&](std::size_t i, const ChunkContext&) {
                              ran.fetch_add(1);
                              if (i == 0) throw std::runtime_error("chunk failed");
                            }),
               std::runtime_error);
  EXPECT_LT(ran.load(), 10000);
  // The executor is still healthy afterwards.
  std::atomic<int> after{0};
  executor.run(100, [&](std::size_t, const ChunkContext&) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 100);
}

TEST(Executor, ConcurrentCallers) {
  Executor executor(2);
  std::vector<std::thread> callers;
  std::atomic<std::size_t> total{0};
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int r = 0; r < 20; ++r)
        executor.run(50, [&](std::size_t, const ChunkContext&) { total.fetch_add(1); });
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 8U * 20U * 50U);
}

}  // namespace
