// CompletionQueue tests: readiness on the descriptor, drain order, no lost wake-ups under load.
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "runtime/completion_queue.hpp"
#include "runtime/executor.hpp"

namespace {

using gilfree::runtime::ChunkContext;
using gilfree::runtime::CompletionQueue;
using gilfree::runtime::Executor;
using gilfree::runtime::JobSpec;

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

TEST(CompletionQueue, NotReadableWhenEmpty) {
  CompletionQueue queue;
  EXPECT_GE(queue.fd(), 0);
  EXPECT_FALSE(readable(queue.fd(), 0));
  EXPECT_TRUE(queue.drain().empty());
}

TEST(CompletionQueue, FinishedJobMakesItReadableUntilDrained) {
  Executor executor(2);
  auto queue = std::make_shared<CompletionQueue>();
  JobSpec spec;
  spec.chunks = 3;
  spec.run_chunk = [](std::size_t, const ChunkContext&) {};
  spec.sink = queue;
  auto job = executor.submit(std::move(spec));
  ASSERT_TRUE(readable(queue->fd(), 5000));
  EXPECT_TRUE(job->finished());
  EXPECT_EQ(queue->drain(), std::vector<std::uint64_t>{job->id()});
  EXPECT_FALSE(readable(queue->fd(), 0));
}

// Many jobs from many threads; a reader that drains only on readiness must see every one.
TEST(CompletionQueue, NoLostWakeups) {
  Executor executor(3);
  auto queue = std::make_shared<CompletionQueue>();
  constexpr int kJobs = 5000;
  std::set<std::uint64_t> expected;
  std::set<std::uint64_t> seen;
  std::thread reader([&] {
    while (seen.size() < kJobs) {
      if (!readable(queue->fd(), 10'000)) break;
      for (auto id : queue->drain()) seen.insert(id);
    }
  });
  for (int i = 0; i < kJobs; ++i) {
    JobSpec spec;
    spec.chunks = static_cast<std::size_t>(i % 3);
    spec.run_chunk = [](std::size_t, const ChunkContext&) {};
    spec.sink = queue;
    expected.insert(executor.submit(std::move(spec))->id());
  }
  reader.join();
  EXPECT_EQ(seen, expected);
}

}  // namespace
