// Executor job tests: fairness, cancellation, deadlines, admission, completion sinks, shutdown.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "runtime/executor.hpp"
#include "runtime/kernel_model.hpp"

namespace {

using namespace std::chrono_literals;
using gilfree::runtime::ChunkContext;
using gilfree::runtime::Clock;
using gilfree::runtime::CompletionSink;
using gilfree::runtime::Executor;
using gilfree::runtime::Job;
using gilfree::runtime::JobSpec;
using gilfree::runtime::JobStatus;

// A chunk that spins for about `d` (sleeping would not hold a core).
void spin_for(std::chrono::microseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
  }
}

// A kernel of its own for a test's jobs: what other tests' jobs measured does not correct its
// estimates (each starts at 1: declared seconds count as they are).
gilfree::runtime::KernelModel& fresh_kernel() {
  static std::atomic<int> next{0};
  return gilfree::runtime::kernel_model("test.jobs." + std::to_string(next.fetch_add(1)));
}

JobSpec spinning_job(std::size_t chunks, std::chrono::microseconds per_chunk,
                     std::atomic<std::size_t>* ran = nullptr, double cost_s = 0,
                     gilfree::runtime::KernelModel* kernel = nullptr) {
  JobSpec spec;
  spec.chunks = chunks;
  spec.cost_s = cost_s;
  spec.kernel = kernel;
  spec.run_chunk = [per_chunk, ran](std::size_t, const ChunkContext&) {
    spin_for(per_chunk);
    if (ran != nullptr) ran->fetch_add(1);
  };
  return spec;
}

// One chunk that holds its worker until `release` is set.
JobSpec blocking_job(const std::atomic<bool>& release, double cost_s = 0,
                     gilfree::runtime::KernelModel* kernel = nullptr) {
  JobSpec spec;
  spec.chunks = 1;
  spec.cost_s = cost_s;
  spec.kernel = kernel;
  spec.run_chunk = [&release](std::size_t, const ChunkContext&) {
    while (!release.load()) std::this_thread::yield();
  };
  return spec;
}

class RecordingSink : public CompletionSink {
 public:
  void job_finished(const std::shared_ptr<Job>& job) noexcept override {
    std::lock_guard lock(mu);
    finished.push_back(job->id());
  }
  std::mutex mu;
  std::vector<std::uint64_t> finished;
};

TEST(Jobs, SmallJobStartsWhileLargeJobRuns) {
  Executor executor(2);
  // 2 workers, each chunk ~200 us: the large job alone would take ~1 s.
  auto large = executor.submit(spinning_job(10'000, 200us));
  std::this_thread::sleep_for(20ms);
  const auto t0 = Clock::now();
  auto small = executor.submit(spinning_job(1, 50us));
  small->wait();
  const auto latency = Clock::now() - t0;
  EXPECT_EQ(small->status(), JobStatus::kSucceeded);
  EXPECT_FALSE(large->finished());
  // About one chunk's wait; generous for a shared, noisy machine.
  EXPECT_LT(latency, 200ms);
  large->cancel();
  large->wait();
  EXPECT_EQ(large->status(), JobStatus::kCancelled);
}

TEST(Jobs, RoundRobinAcrossJobs) {
  Executor executor(1);
  std::mutex mu;
  std::vector<int> order;
  auto make = [&](int tag) {
    JobSpec spec;
    spec.chunks = 3;
    spec.run_chunk = [&, tag](std::size_t, const ChunkContext&) {
      std::lock_guard lock(mu);
      order.push_back(tag);
    };
    return spec;
  };
  // Hold the only worker so both jobs are queued before any chunk runs.
  std::atomic<bool> release{false};
  auto b = executor.submit(blocking_job(release));
  auto j1 = executor.submit(make(1));
  auto j2 = executor.submit(make(2));
  release = true;
  j1->wait();
  j2->wait();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 1, 2, 1, 2}));
}

TEST(Jobs, CancelStopsRemainingChunksAndFreesWorkers) {
  Executor executor(2);
  std::atomic<std::size_t> ran{0};
  auto job = executor.submit(spinning_job(100'000, 100us, &ran));
  std::this_thread::sleep_for(10ms);
  const auto t0 = Clock::now();
  job->cancel();
  job->wait();
  const auto took = Clock::now() - t0;
  EXPECT_EQ(job->status(), JobStatus::kCancelled);
  EXPECT_LT(ran.load(), 100'000U);
  EXPECT_LT(took, 200ms);
  EXPECT_EQ(executor.stats().busy_workers, 0U);
  EXPECT_EQ(executor.stats().active_jobs, 0U);
  EXPECT_THROW(job->rethrow_if_unsuccessful(), gilfree::CancelledError);
}

TEST(Jobs, CancelBeforeStartRunsNothing) {
  Executor executor(1);
  std::atomic<bool> release{false};
  auto b = executor.submit(blocking_job(release));
  std::atomic<std::size_t> ran{0};
  auto job = executor.submit(spinning_job(10, 1us, &ran));
  job->cancel();
  release = true;
  job->wait();
  EXPECT_EQ(ran.load(), 0U);
  EXPECT_EQ(job->status(), JobStatus::kCancelled);
}

TEST(Jobs, DeadlineStopsTheJob) {
  Executor executor(2);
  std::atomic<std::size_t> ran{0};
  JobSpec spec = spinning_job(100'000, 100us, &ran);
  spec.deadline = Clock::now() + 20ms;
  auto job = executor.submit(std::move(spec));
  job->wait();
  EXPECT_EQ(job->status(), JobStatus::kDeadlineExceeded);
  EXPECT_LT(ran.load(), 100'000U);
  EXPECT_LT(job->finished_at() - job->submitted_at(), 200ms);
  EXPECT_THROW(job->rethrow_if_unsuccessful(), gilfree::DeadlineExceededError);
  EXPECT_EQ(executor.stats().deadline_exceeded, 1U);
}

TEST(Jobs, JobThatFinishesBeforeItsDeadlineSucceeds) {
  Executor executor(2);
  JobSpec spec = spinning_job(4, 10us);
  spec.deadline = Clock::now() + 10s;
  auto job = executor.submit(std::move(spec));
  job->wait();
  EXPECT_EQ(job->status(), JobStatus::kSucceeded);
}

TEST(Jobs, AdmissionIsBoundedByQueuedCpuSeconds) {
  Executor executor(1, /*max_queued_cpu_s=*/1000.0);
  auto& kernel = fresh_kernel();
  std::atomic<bool> release{false};
  auto first = executor.submit(blocking_job(release, 800, &kernel));
  EXPECT_THROW(executor.submit(spinning_job(1, 1us, nullptr, 300, &kernel)),
               gilfree::OverloadedError);
  auto fits = executor.submit(spinning_job(1, 1us, nullptr, 200, &kernel));
  EXPECT_DOUBLE_EQ(executor.stats().queued_cpu_s, 1000.0);
  EXPECT_EQ(executor.stats().rejected, 1U);
  EXPECT_EQ(kernel.stats().rejected, 1U);
  release = true;
  first->wait();
  fits->wait();
  EXPECT_EQ(executor.stats().queued_cpu_s, 0.0);
  EXPECT_EQ(executor.stats().active_jobs, 0U);
}

TEST(Jobs, AnIdleExecutorTakesAJobOfAnyEstimate) {
  Executor executor(1, /*max_queued_cpu_s=*/1.0);
  std::atomic<bool> release{false};
  auto huge = executor.submit(blocking_job(release, 5000, &fresh_kernel()));
  // Not idle any more: the next job must fit.
  EXPECT_THROW(executor.submit(spinning_job(1, 1us, nullptr, 0.5, &fresh_kernel())),
               gilfree::OverloadedError);
  release = true;
  huge->wait();
  EXPECT_EQ(huge->status(), JobStatus::kSucceeded);
}

TEST(Jobs, QueuedWorkFollowsTheCorrectionOfAdmittedJobs) {
  // Admitted work is re-estimated at every admission: when a kernel turns out to cost ten times
  // its declarations, its jobs already in the queue count ten times as much from then on.
  Executor executor(1, /*max_queued_cpu_s=*/100.0);
  auto& kernel = fresh_kernel();
  std::atomic<bool> release{false};
  auto held = executor.submit(blocking_job(release, 8, &kernel));
  EXPECT_DOUBLE_EQ(executor.stats().queued_cpu_s, 8.0);
  kernel.observe_running(1.0, 10.0);  // a job of 1 declared second has used 10 already
  EXPECT_DOUBLE_EQ(executor.stats().queued_cpu_s, 80.0);
  EXPECT_THROW(executor.submit(spinning_job(1, 0us, nullptr, 30, &fresh_kernel())),
               gilfree::OverloadedError);
  auto fits = executor.submit(spinning_job(1, 0us, nullptr, 20, &fresh_kernel()));
  release = true;
  held->wait();
  fits->wait();
}

TEST(Jobs, TheMeasuredCpuTimeOfAJobCorrectsItsKernel) {
  Executor executor(2);
  auto& kernel = fresh_kernel();
  // Declared at 1 ms, each job spins about 10 ms on one core.
  for (int i = 0; i < 3; ++i) {
    auto job = executor.submit(spinning_job(2, 5000us, nullptr, 1e-3, &kernel));
    job->wait();
    // The wall clock spun 10 ms; a busy machine (ctest runs tests in parallel) preempts the
    // spinning threads, by half at times: more than twice the declaration is what is certain.
    EXPECT_GT(job->cpu_s(), 2e-3);
    if (i == 0) {
      EXPECT_DOUBLE_EQ(job->estimated_cpu_s(), 1e-3);  // nothing measured before it
    } else {
      EXPECT_GT(job->estimated_cpu_s(), 2e-3);  // corrected by the first
    }
  }
  EXPECT_GT(kernel.correction(), 2.0);
  EXPECT_LT(kernel.correction(), 13.0);
  const auto stats = kernel.stats();
  EXPECT_EQ(stats.succeeded, 3U);
  EXPECT_NEAR(stats.declared_cpu_s, 3e-3, 1e-12);
  EXPECT_GT(stats.measured_cpu_s, 6e-3);
}

TEST(Jobs, SinkHearsEveryJobOnce) {
  Executor executor(3);
  auto sink = std::make_shared<RecordingSink>();
  std::vector<std::shared_ptr<Job>> jobs;
  for (int i = 0; i < 200; ++i) {
    JobSpec spec = spinning_job(static_cast<std::size_t>(i % 5), 5us);
    spec.sink = sink;
    jobs.push_back(executor.submit(std::move(spec)));
    if (i % 3 == 0) jobs.back()->cancel();
  }
  for (auto& job : jobs) job->wait();
  // A job is marked finished before its sink hears of it (so that whoever the sink wakes finds it
  // finished): the last reports may still be on their way.
  const auto deadline = Clock::now() + 10s;
  for (;;) {
    std::lock_guard lock(sink->mu);
    if (sink->finished.size() >= jobs.size() || Clock::now() > deadline) break;
  }
  std::lock_guard lock(sink->mu);
  ASSERT_EQ(sink->finished.size(), jobs.size());
  std::vector<std::uint64_t> ids = sink->finished;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

TEST(Jobs, ZeroChunkJobFinishesAtOnce) {
  Executor executor(1);
  auto sink = std::make_shared<RecordingSink>();
  JobSpec spec;
  spec.sink = sink;
  auto job = executor.submit(std::move(spec));
  EXPECT_TRUE(job->finished());
  EXPECT_EQ(job->status(), JobStatus::kSucceeded);
  EXPECT_EQ(sink->finished.size(), 1U);
}

TEST(Jobs, FailedChunkFailsTheJob) {
  Executor executor(2);
  JobSpec spec;
  spec.chunks = 1000;
  spec.run_chunk = [](std::size_t i, const ChunkContext&) {
    if (i == 3) throw std::runtime_error("boom");
  };
  auto job = executor.submit(std::move(spec));
  job->wait();
  EXPECT_EQ(job->status(), JobStatus::kFailed);
  EXPECT_THROW(job->rethrow_if_unsuccessful(), std::runtime_error);
  EXPECT_EQ(executor.stats().failed, 1U);
}

// A chunk that polls its ChunkContext ends early, and its job does not count as succeeded.
TEST(Jobs, ChunkThatStopsEarlyEndsTheJobAsCancelled) {
  Executor executor(1);
  JobSpec spec;
  spec.chunks = 1;  // all claimed at once: only the poll inside the chunk can stop it
  spec.run_chunk = [](std::size_t, const ChunkContext& stop) {
    while (!stop.stop_requested()) std::this_thread::yield();
  };
  auto job = executor.submit(std::move(spec));
  std::this_thread::sleep_for(10ms);
  job->cancel();
  ASSERT_TRUE(job->wait_for(5s));
  EXPECT_EQ(job->status(), JobStatus::kCancelled);
}

TEST(Jobs, ChunkThatStopsEarlyAtTheDeadline) {
  Executor executor(1);
  JobSpec spec;
  spec.chunks = 1;
  spec.deadline = Clock::now() + 20ms;
  spec.run_chunk = [](std::size_t, const ChunkContext& stop) {
    while (!stop.stop_requested()) std::this_thread::yield();
  };
  auto job = executor.submit(std::move(spec));
  ASSERT_TRUE(job->wait_for(5s));
  EXPECT_EQ(job->status(), JobStatus::kDeadlineExceeded);
}

// A chunk that runs in slices (run_again) finishes all of them, and other jobs get their turn
// between slices: a job of one never-ending chunk does not hold its worker.
TEST(Jobs, SlicedChunksRunToTheEndAndShareTheWorker) {
  Executor executor(1);
  std::vector<int> slices(3, 0);
  JobSpec sliced;
  sliced.chunks = 3;
  sliced.run_chunk = [&](std::size_t i, ChunkContext& context) {
    spin_for(100us);
    if (++slices[i] < 50) context.run_again();
  };
  auto long_job = executor.submit(std::move(sliced));
  std::this_thread::sleep_for(2ms);
  const auto t0 = Clock::now();
  auto small = executor.submit(spinning_job(1, 10us));
  small->wait();
  EXPECT_LT(Clock::now() - t0, 100ms);
  EXPECT_FALSE(long_job->finished());
  long_job->wait();
  EXPECT_EQ(long_job->status(), JobStatus::kSucceeded);
  EXPECT_EQ(slices, (std::vector<int>{50, 50, 50}));
}

TEST(Jobs, CancelStopsSlicedChunks) {
  Executor executor(2);
  JobSpec endless;
  endless.chunks = 2;
  endless.run_chunk = [](std::size_t, ChunkContext& context) {
    spin_for(50us);
    context.run_again();
  };
  auto job = executor.submit(std::move(endless));
  std::this_thread::sleep_for(10ms);
  job->cancel();
  ASSERT_TRUE(job->wait_for(5s));
  EXPECT_EQ(job->status(), JobStatus::kCancelled);
  EXPECT_EQ(executor.stats().active_jobs, 0U);
}

TEST(Shutdown, StopsSlicedChunksWhoseChunksAreAllRunning) {
  Executor executor(2);
  JobSpec endless;
  endless.chunks = 2;  // both chunks claimed at once: the job is never waiting in the queue
  endless.run_chunk = [](std::size_t, ChunkContext& context) {
    spin_for(50us);
    context.run_again();
  };
  auto job = executor.submit(std::move(endless));
  std::this_thread::sleep_for(10ms);
  const auto t0 = Clock::now();
  executor.shutdown(10ms);
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE(job->finished());
  EXPECT_EQ(job->status(), JobStatus::kCancelled);
}

TEST(Shutdown, GraceLetsShortJobsFinish) {
  Executor executor(2);
  std::atomic<std::size_t> ran{0};
  auto job = executor.submit(spinning_job(20, 100us, &ran));
  executor.shutdown(5s);
  EXPECT_EQ(job->status(), JobStatus::kSucceeded);
  EXPECT_EQ(ran.load(), 20U);
  EXPECT_THROW(executor.submit(spinning_job(1, 1us)), gilfree::OverloadedError);
}

TEST(Shutdown, CancelsWhatOutlastsTheGrace) {
  auto executor = std::make_unique<Executor>(2);
  auto sink = std::make_shared<RecordingSink>();
  std::vector<std::shared_ptr<Job>> jobs;
  for (int i = 0; i < 4; ++i) {
    JobSpec spec = spinning_job(100'000, 100us);
    spec.sink = sink;
    jobs.push_back(executor->submit(std::move(spec)));
  }
  const auto t0 = Clock::now();
  executor->shutdown(20ms);
  EXPECT_LT(Clock::now() - t0, 1s);
  for (auto& job : jobs) {
    EXPECT_TRUE(job->finished());
    EXPECT_EQ(job->status(), JobStatus::kCancelled);
  }
  EXPECT_EQ(sink->finished.size(), 4U);
  executor.reset();  // destructor after shutdown: no double join
}

TEST(Shutdown, DestructorWithJobsInFlight) {
  std::vector<std::shared_ptr<Job>> jobs;
  {
    Executor executor(2);
    for (int i = 0; i < 3; ++i) jobs.push_back(executor.submit(spinning_job(100'000, 50us)));
  }
  for (auto& job : jobs) EXPECT_TRUE(job->finished());
}

}  // namespace

namespace {

using gilfree::runtime::StagePlan;

TEST(Stages, RunInOrderEachAfterThePreviousHasFinished) {
  Executor executor(3);
  constexpr std::size_t kStages = 4;
  std::vector<std::atomic<std::size_t>> done(kStages);
  std::atomic<bool> out_of_order{false};
  std::vector<std::size_t> planned_after;
  JobSpec spec;
  spec.chunks = 5;
  spec.run_chunk = [&](std::size_t, const ChunkContext& context) {
    const std::size_t stage = context.stage();
    if (stage > 0 && done[stage - 1].load() != 5 + stage - 1) out_of_order = true;
    spin_for(100us);
    done[stage].fetch_add(1);
  };
  spec.next_stage = [&](std::size_t finished) {
    planned_after.push_back(finished);  // one at a time: the last chunk of a stage calls it
    return StagePlan{finished + 1 < kStages ? 5 + finished + 1 : 0, std::nullopt};
  };
  auto job = executor.submit(std::move(spec));
  job->wait();
  EXPECT_EQ(job->status(), JobStatus::kSucceeded);
  EXPECT_FALSE(out_of_order.load());
  for (std::size_t s = 0; s < kStages; ++s) EXPECT_EQ(done[s].load(), 5 + s) << s;
  EXPECT_EQ(planned_after, (std::vector<std::size_t>{0, 1, 2, 3}));
}

TEST(Stages, APlanCanLowerTheCostButNotRaiseIt) {
  Executor executor(1, 1000.0);
  auto& kernel = fresh_kernel();
  std::atomic<bool> release{false};
  JobSpec spec;
  spec.chunks = 1;
  spec.cost_s = 800;
  spec.kernel = &kernel;
  spec.run_chunk = [&](std::size_t, const ChunkContext& context) {
    if (context.stage() == 1) {
      while (!release.load()) std::this_thread::yield();
    }
  };
  spec.next_stage = [](std::size_t finished) {
    return finished == 0 ? StagePlan{1, 300} : StagePlan{0, 5000};
  };
  auto job = executor.submit(std::move(spec));
  // Stage 1 holds the worker: by then the job counts 300, so 700 more fit, 701 do not.
  while (executor.stats().queued_cpu_s != 300.0) std::this_thread::yield();
  EXPECT_THROW(executor.submit(spinning_job(1, 0us, nullptr, 701, &kernel)),
               gilfree::OverloadedError);
  auto fits = executor.submit(spinning_job(1, 0us, nullptr, 700, &kernel));
  release = true;
  job->wait();
  fits->wait();
  EXPECT_EQ(job->status(), JobStatus::kSucceeded);
  EXPECT_EQ(executor.stats().queued_cpu_s, 0.0);
}

TEST(Stages, AThrowingPlanFailsTheJob) {
  Executor executor(2);
  JobSpec spec;
  spec.chunks = 3;
  spec.run_chunk = [](std::size_t, const ChunkContext&) {};
  spec.next_stage = [](std::size_t) -> StagePlan { throw std::runtime_error("no plan"); };
  auto job = executor.submit(std::move(spec));
  job->wait();
  EXPECT_EQ(job->status(), JobStatus::kFailed);
  EXPECT_THROW(job->rethrow_if_unsuccessful(), std::runtime_error);
}

TEST(Stages, CancelDuringAStageRunsNoLaterStage) {
  Executor executor(2);
  std::atomic<std::size_t> later{0};
  std::atomic<Job*> self{nullptr};
  JobSpec spec;
  spec.chunks = 1;
  spec.run_chunk = [&](std::size_t, const ChunkContext& context) {
    if (context.stage() == 0) {
      while (self.load() == nullptr) std::this_thread::yield();
      self.load()->cancel();  // the chunk itself does not poll: its stage completes
    } else {
      later.fetch_add(1);
    }
  };
  spec.next_stage = [](std::size_t finished) { return StagePlan{finished == 0 ? 4U : 0U, {}}; };
  auto job = executor.submit(std::move(spec));
  self = job.get();
  job->wait();
  EXPECT_EQ(job->status(), JobStatus::kCancelled);
  EXPECT_EQ(later.load(), 0U);
  EXPECT_EQ(executor.stats().queued_cpu_s, 0.0);
}

TEST(Stages, AChunkStoppedEarlyEndsTheJobWithoutPlanning) {
  Executor executor(1);
  std::atomic<bool> planned{false};
  JobSpec spec;
  spec.chunks = 1;
  spec.deadline = Clock::now() + 1ms;
  spec.run_chunk = [](std::size_t, const ChunkContext& context) {
    while (!context.stop_requested()) std::this_thread::yield();
  };
  spec.next_stage = [&](std::size_t) {
    planned = true;
    return StagePlan{1, {}};
  };
  auto job = executor.submit(std::move(spec));
  job->wait();
  EXPECT_EQ(job->status(), JobStatus::kDeadlineExceeded);
  EXPECT_FALSE(planned.load());
}

TEST(Stages, RunInlineRunsEveryStageAndSlice) {
  Executor executor(1);
  std::vector<std::pair<std::size_t, std::size_t>> runs;  // (stage, chunk)
  std::vector<int> slices(2, 0);
  JobSpec spec;
  spec.chunks = 2;
  spec.run_chunk = [&](std::size_t chunk, ChunkContext& context) {
    runs.emplace_back(context.stage(), chunk);
    EXPECT_FALSE(context.stop_requested());
    if (context.stage() == 0 && ++slices[chunk] < 3) context.run_again();
  };
  spec.next_stage = [](std::size_t finished) { return StagePlan{finished == 0 ? 1U : 0U, {}}; };
  const auto job = executor.run_inline(std::move(spec));
  ASSERT_TRUE(job->finished());
  EXPECT_TRUE(job->ran_inline());
  EXPECT_EQ(job->status(), JobStatus::kSucceeded);
  const std::vector<std::pair<std::size_t, std::size_t>> expected = {{0, 0}, {0, 0}, {0, 0}, {0, 1},
                                                                     {0, 1}, {0, 1}, {1, 0}};
  EXPECT_EQ(runs, expected);
  EXPECT_EQ(executor.stats().inline_runs, 1U);
  EXPECT_EQ(executor.stats().submitted, 0U);
  EXPECT_EQ(executor.stats().succeeded, 1U);
}

TEST(Stages, AnInlineJobThatThrowsFailsAndTheCallerGoesOn) {
  Executor executor(1);
  JobSpec spec;
  spec.chunks = 1;
  spec.run_chunk = [](std::size_t, ChunkContext&) { throw std::runtime_error("inline failure"); };
  const auto job = executor.run_inline(std::move(spec));
  EXPECT_EQ(job->status(), JobStatus::kFailed);
  EXPECT_THROW(job->rethrow_if_unsuccessful(), std::runtime_error);
  EXPECT_EQ(executor.stats().failed, 1U);
  EXPECT_EQ(executor.stats().active_jobs, 0U);
}

}  // namespace

namespace {

TEST(Admission, AnInlineJobCountsWhileItRuns) {
  Executor executor(1, 100.0);
  auto& kernel = fresh_kernel();
  std::atomic<bool> release{false};
  auto held = executor.submit(blocking_job(release, 60, &kernel));
  JobSpec too_much = spinning_job(1, 0us, nullptr, 41, &kernel);
  EXPECT_THROW((void)executor.run_inline(std::move(too_much)), gilfree::OverloadedError);
  double seen = -1;
  JobSpec fits = spinning_job(1, 0us, nullptr, 40, &kernel);
  fits.run_chunk = [&](std::size_t, ChunkContext&) { seen = executor.stats().queued_cpu_s; };
  const auto job = executor.run_inline(std::move(fits));
  EXPECT_EQ(job->status(), JobStatus::kSucceeded);
  EXPECT_DOUBLE_EQ(seen, 100.0);
  release = true;
  held->wait();
  EXPECT_EQ(executor.stats().queued_cpu_s, 0.0);
  EXPECT_EQ(executor.stats().rejected, 1U);
  executor.shutdown(0ms);
  EXPECT_THROW((void)executor.run_inline(spinning_job(1, 0us)), gilfree::OverloadedError);
}

}  // namespace
