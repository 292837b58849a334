// The jobs of kernelpkg (tests/kernel_package: another package's kernels, written against the
// public kernel API only) run on gilfree's executor from many threads at once, in the same binary
// as the runtime, so that ThreadSanitizer and AddressSanitizer see the user's code, the header's
// callbacks and the runtime together. Its Python side is tested by its own pytest suite.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "jobs.hpp"
#include "runtime/executor.hpp"
#include "runtime/kernel_abi.hpp"

namespace {

using gilfree::runtime::Executor;
using gilfree::runtime::JobStatus;
using gilfree::runtime::start_job;

std::vector<std::string> documents(std::size_t n) {
  const char* words[] = {"alpha", "beta", "gamma", "delta", "fuzzy", "search", "kernel"};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(std::string(words[i % 7]) + " " + words[(i * 3) % 7] + " " + words[(i / 7) % 7]);
  }
  return out;
}

TEST(KernelPackage, EntropiesMatchOneAtATimeInSlices) {
  Executor executor(3);
  std::vector<std::string> words;
  for (int i = 0; i < 1000; ++i)
    words.push_back(std::string(static_cast<std::size_t>(i % 50), 'a') + "xyz");
  const auto described = start_job(executor, kernelpkg::kEntropy, kernelpkg::Entropy(words, 200));
  described->job()->wait();
  ASSERT_EQ(described->job()->status(), JobStatus::kSucceeded);
  const auto entropies = described->state<kernelpkg::Entropy>().take_result();
  ASSERT_EQ(entropies.size(), words.size());
  for (std::size_t i = 0; i < words.size(); ++i) {
    EXPECT_EQ(entropies[i], kernelpkg::entropy_bits(words[i])) << i;
  }
}

TEST(KernelPackage, ManySearchesOverOneSharedIndexFromManyThreads) {
  Executor executor(3);
  const auto docs = documents(3000);
  auto index = std::make_shared<const kernelpkg::TrigramIndex>(docs);
  // The answer of one search, computed alone first.
  const auto alone = start_job(executor, kernelpkg::kSearch, kernelpkg::Search(index, "fuzzy", 5));
  alone->job()->wait();
  const auto expected = alone->state<kernelpkg::Search>().hits();
  ASSERT_EQ(expected.size(), 5U);

  std::atomic<int> same{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, shared = gilfree::Shared<kernelpkg::TrigramIndex>(index)] {
      for (int r = 0; r < 20; ++r) {
        const auto described =
            start_job(executor, kernelpkg::kSearch, kernelpkg::Search(shared, "fuzzy", 5));
        described->job()->wait();
        const auto& hits = described->state<kernelpkg::Search>().hits();
        bool equal = hits.size() == expected.size();
        for (std::size_t i = 0; equal && i < hits.size(); ++i) {
          equal = hits[i].document == expected[i].document && hits[i].score == expected[i].score;
        }
        if (equal) same.fetch_add(1);
      }
    });
  }
  index.reset();
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(same.load(), 80);
}

TEST(KernelPackage, ACancelledEntropyStopsWithinASlice) {
  Executor executor(2);
  const auto described = start_job(executor, kernelpkg::kEntropy,
                                   kernelpkg::Entropy({std::string(300, 'q')}, 1'000'000'000'000));
  while (executor.stats().busy_workers == 0) std::this_thread::yield();
  const auto t0 = std::chrono::steady_clock::now();
  described->job()->cancel();
  described->job()->wait();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(200));
  EXPECT_EQ(described->job()->status(), JobStatus::kCancelled);
}

TEST(KernelPackage, EveryJobStateIsReleased) {
  const auto before = kernelpkg::live_jobs().load();
  {
    Executor executor(2);
    std::vector<std::unique_ptr<gilfree::runtime::DescribedJob>> jobs;
    for (int i = 0; i < 50; ++i) {
      jobs.push_back(start_job(executor, kernelpkg::kMisbehaving,
                               kernelpkg::Explode(i % 2 ? "runtime" : "invalid", "boom")));
    }
    for (const auto& job : jobs) {
      job->job()->wait();
      EXPECT_EQ(job->job()->status(), JobStatus::kFailed);
    }
  }
  EXPECT_EQ(kernelpkg::live_jobs().load(), before);
}

}  // namespace
