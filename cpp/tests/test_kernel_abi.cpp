// The public kernel API (include/gilfree/kernel.hpp) over the runtime's side of the C boundary:
// jobs described as classes and as lambdas, their stages, stops and slices, how failures cross,
// descriptors the runtime refuses, and the lifetime of a job's state and of shared state.
#include <gtest/gtest.h>

#include <gilfree/kernel.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "runtime/executor.hpp"
#include "runtime/kernel_abi.hpp"
#include "runtime/kernel_model.hpp"

namespace {

using namespace std::chrono_literals;
using gilfree::Chunk;
using gilfree::Kernel;
using gilfree::KernelError;
using gilfree::Stage;
using gilfree::runtime::Executor;
using gilfree::runtime::JobStatus;
using gilfree::runtime::start_job;

constexpr Kernel kTest{"test.kernel_abi"};

// A job class with every optional member: squares of 0..n-1, a chunk of 100 at a time.
struct Squares {
  explicit Squares(std::size_t n) : out(n) {}
  [[nodiscard]] std::size_t chunks() const { return (out.size() + 99) / 100; }
  [[nodiscard]] double cost_s() const { return 1e-9 * static_cast<double>(out.size()); }
  void run(std::size_t chunk, Chunk& context) {
    EXPECT_EQ(context.stage(), 0U);
    for (std::size_t i = chunk * 100; i < std::min(out.size(), chunk * 100 + 100); ++i) {
      out[i] = i * i;
    }
  }
  std::vector<std::size_t> out;
};

// Rethrows a finished job's failure.
[[noreturn]] void rethrow(const gilfree::runtime::DescribedJob& described) {
  described.job()->rethrow_if_unsuccessful();
  throw std::logic_error("the job succeeded");
}

KernelError failure_of(const gilfree::runtime::DescribedJob& described) {
  try {
    rethrow(described);
  } catch (const KernelError& e) {
    return e;
  }
}

TEST(KernelApi, AJobClassRunsEveryChunkOnTheWorkers) {
  Executor executor(3);
  const auto described = start_job(executor, kTest, Squares(1001));
  described->job()->wait();
  ASSERT_EQ(described->job()->status(), JobStatus::kSucceeded);
  const auto& out = described->state<Squares>().out;
  for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], i * i) << i;
  EXPECT_EQ(described->job()->kernel().name(), "test.kernel_abi");
  EXPECT_FALSE(described->job()->ran_inline());
}

TEST(KernelApi, ALambdaJobRunsTheSameWay) {
  Executor executor(2);
  auto sums = std::make_shared<std::vector<std::atomic<int>>>(8);
  gilfree::Job<int> job;
  job.chunks = 8;
  job.run = [sums](std::size_t chunk, Chunk&) { (*sums)[chunk].fetch_add(1); };
  job.result = [] { return 42; };
  const auto described = start_job(executor, kTest, std::move(job));
  described->job()->wait();
  EXPECT_EQ(described->job()->status(), JobStatus::kSucceeded);
  for (const auto& count : *sums) EXPECT_EQ(count.load(), 1);
  EXPECT_EQ(described->state<gilfree::Job<int>>().result(), 42);
}

TEST(KernelApi, DefaultsAreOneChunkAndAHundredMicrosecondsEach) {
  gilfree::runtime::use_core_api();
  struct Minimal {
    void run(std::size_t, Chunk&) {}
  } minimal;
  const gf_job_desc one = gilfree::detail::describe(kTest.handle(), &minimal);
  EXPECT_EQ(one.chunks, 1U);
  EXPECT_DOUBLE_EQ(one.cost_s, gilfree::kDefaultChunkCost_s);
  EXPECT_EQ(one.next_stage, nullptr);
  EXPECT_EQ(one.struct_size, sizeof(gf_job_desc));
  gilfree::Job<> lambdas;
  lambdas.chunks = 5;
  lambdas.run = [](std::size_t, Chunk&) {};
  const gf_job_desc five = gilfree::detail::describe(kTest.handle(), &lambdas);
  EXPECT_DOUBLE_EQ(five.cost_s, 5 * gilfree::kDefaultChunkCost_s);
}

TEST(KernelApi, RunsAtOnceOnTheCallingThreadWhenAsked) {
  Executor executor(1);
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  gilfree::Job<> job;
  job.run = [&](std::size_t, Chunk&) { ran_on = std::this_thread::get_id(); };
  const auto described = start_job(executor, kTest, std::move(job), /*run_inline=*/true);
  EXPECT_TRUE(described->job()->finished());
  EXPECT_TRUE(described->job()->ran_inline());
  EXPECT_EQ(ran_on, caller);
}

// Stages: 3 chunks, then 2, then done; the plan lowers the cost.
struct Staged {
  [[nodiscard]] std::size_t chunks() const { return 3; }
  [[nodiscard]] double cost_s() const { return 1.0; }
  void run(std::size_t chunk, Chunk& context) {
    std::lock_guard lock(*mu);
    seen.emplace_back(context.stage(), chunk);
  }
  Stage next_stage(std::size_t finished) {
    plans.push_back(finished);
    if (finished == 0) return Stage{2, 0.5};
    return Stage{};
  }
  std::unique_ptr<std::mutex> mu = std::make_unique<std::mutex>();  // keeps the job movable
  std::vector<std::pair<std::size_t, std::size_t>> seen;
  std::vector<std::size_t> plans;
};

TEST(KernelApi, StagesRunInOrderAndThePlanLowersTheCost) {
  Executor executor(2);
  auto& model = gilfree::runtime::kernel_model("test.kernel_abi.staged");
  const double declared_before = model.stats().declared_cpu_s;
  const auto described = start_job(executor, Kernel{"test.kernel_abi.staged"}, Staged{});
  described->job()->wait();
  ASSERT_EQ(described->job()->status(), JobStatus::kSucceeded);
  auto& staged = described->state<Staged>();
  EXPECT_EQ(staged.plans, (std::vector<std::size_t>{0, 1}));
  std::sort(staged.seen.begin(), staged.seen.end());
  const std::vector<std::pair<std::size_t, std::size_t>> expected = {
      {0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}};
  EXPECT_EQ(staged.seen, expected);
  EXPECT_DOUBLE_EQ(model.stats().declared_cpu_s - declared_before, 0.5);
}

// A chunk that fails with whatever `make_failure` throws.
template <class Throw>
gilfree::Job<> failing(Throw make_failure) {
  gilfree::Job<> job;
  job.chunks = 4;
  job.run = [make_failure](std::size_t chunk, Chunk&) {
    if (chunk == 2) make_failure();
  };
  return job;
}

TEST(KernelApi, FailuresCrossAsTheirKindAndMessage) {
  Executor executor(2);
  auto run = [&](auto job) {
    auto described = start_job(executor, kTest, std::move(job));
    described->job()->wait();
    EXPECT_EQ(described->job()->status(), JobStatus::kFailed);
    return failure_of(*described);
  };
  const KernelError invalid = run(failing([] { throw gilfree::InvalidInput("bad value", 7); }));
  EXPECT_EQ(invalid.kind(), GF_ERROR_INVALID_INPUT);
  EXPECT_STREQ(invalid.what(), "bad value");
  EXPECT_EQ(invalid.index(), 7U);

  const KernelError plain = run(failing([] { throw std::runtime_error("it broke"); }));
  EXPECT_EQ(plain.kind(), GF_ERROR_KERNEL);
  EXPECT_STREQ(plain.what(), "it broke");
  EXPECT_FALSE(plain.index().has_value());

  const KernelError memory = run(failing([] { throw std::bad_alloc(); }));
  EXPECT_EQ(memory.kind(), GF_ERROR_NO_MEMORY);

  const KernelError odd = run(failing([] { throw 42; }));
  EXPECT_EQ(odd.kind(), GF_ERROR_KERNEL);
  EXPECT_NE(std::string(odd.what()).find("not a std::exception"), std::string::npos);

  gilfree::Job<> plan_fails;
  plan_fails.run = [](std::size_t, Chunk&) {};
  plan_fails.next_stage = [](std::size_t) -> Stage { throw std::runtime_error("no plan"); };
  const KernelError plan = run(std::move(plan_fails));
  EXPECT_STREQ(plan.what(), "no plan");

  // The workers go on serving.
  const auto after = start_job(executor, kTest, Squares(500));
  after->job()->wait();
  EXPECT_EQ(after->job()->status(), JobStatus::kSucceeded);
}

TEST(KernelApi, ALongChunkStopsWhenCancelledAndSlicesRunAgain) {
  Executor executor(2);
  std::atomic<bool> polling{false};
  gilfree::Job<> spinning;
  spinning.run = [&](std::size_t, Chunk& context) {
    polling = true;
    while (!context.stop_requested()) std::this_thread::yield();
  };
  const auto described = start_job(executor, kTest, std::move(spinning));
  while (!polling.load()) std::this_thread::yield();
  described->job()->cancel();
  described->job()->wait();
  EXPECT_EQ(described->job()->status(), JobStatus::kCancelled);

  auto slices = std::make_shared<std::atomic<int>>(0);
  gilfree::Job<> sliced;
  sliced.run = [slices](std::size_t, Chunk& context) {
    if (slices->fetch_add(1) + 1 < 5) context.run_again();
  };
  const auto again = start_job(executor, kTest, std::move(sliced));
  again->job()->wait();
  EXPECT_EQ(again->job()->status(), JobStatus::kSucceeded);
  EXPECT_EQ(slices->load(), 5);
}

TEST(KernelApi, ADeadlineStopsAPollingChunk) {
  Executor executor(1);
  gilfree::Job<> spinning;
  spinning.run = [](std::size_t, Chunk& context) {
    while (!context.stop_requested()) std::this_thread::yield();
  };
  const auto described =
      start_job(executor, kTest, std::move(spinning), false, gilfree::runtime::Clock::now() + 5ms);
  described->job()->wait();
  EXPECT_EQ(described->job()->status(), JobStatus::kDeadlineExceeded);
}

// Counts its destructions: the runtime releases each job's state exactly once.
struct Counted {
  explicit Counted(std::atomic<int>* counter) : released(counter) {}
  Counted(Counted&& other) noexcept : released(std::exchange(other.released, nullptr)) {}
  ~Counted() {
    if (released != nullptr) released->fetch_add(1);
  }
  void run(std::size_t, Chunk& context) {
    while (!context.stop_requested()) std::this_thread::yield();
  }
  std::atomic<int>* released;
};

TEST(KernelApi, AStateIsReleasedOnceAfterItsLastChunkReturned) {
  Executor executor(2);
  std::atomic<int> released{0};
  {
    const auto described = start_job(executor, kTest, Counted(&released));
    std::this_thread::sleep_for(5ms);
    described->job()->cancel();
    EXPECT_EQ(released.load(), 0);
  }  // the handle waits for the chunk to return, then releases
  EXPECT_EQ(released.load(), 1);
}

// A raw descriptor, as a module written in C would fill it.
struct RawState {
  int released = 0;
};
int raw_fails_silently(void*, std::size_t, gf_chunk*) { return GF_FAILED; }
int raw_ok(void*, std::size_t, gf_chunk*) { return GF_OK; }
void raw_release(void* state) { static_cast<RawState*>(state)->released += 1; }

gf_job_desc raw_desc(RawState* state) {
  gilfree::runtime::use_core_api();
  gf_job_desc desc{};
  desc.struct_size = sizeof(gf_job_desc);
  desc.kernel = Kernel{"test.kernel_abi.raw"}.handle();
  desc.chunks = 1;
  desc.cost_s = 1e-6;
  desc.state = state;
  desc.run_chunk = &raw_ok;
  desc.release = &raw_release;
  return desc;
}

TEST(KernelAbi, ACallbackThatFailsWithoutSayingWhyStillFailsClearly) {
  Executor executor(1);
  RawState state;
  gf_job_desc desc = raw_desc(&state);
  desc.run_chunk = &raw_fails_silently;
  {
    auto described = gilfree::runtime::take_job_desc(desc);
    described->start(executor, false, std::nullopt, nullptr);
    described->job()->wait();
    const KernelError e = failure_of(*described);
    EXPECT_NE(std::string(e.what()).find("failed without saying why"), std::string::npos);
  }
  EXPECT_EQ(state.released, 1);
}

TEST(KernelAbi, DescriptorsItCannotRunAreRefusedAndTheirStateReleased) {
  struct Bad {
    const char* why;
    void (*spoil)(gf_job_desc&);
  };
  const Bad bad[] = {
      {"0 chunks", [](gf_job_desc& d) { d.chunks = 0; }},
      {"at most", [](gf_job_desc& d) { d.chunks = std::size_t{1} << 63; }},
      {"no run_chunk", [](gf_job_desc& d) { d.run_chunk = nullptr; }},
      {"no kernel", [](gf_job_desc& d) { d.kernel = nullptr; }},
      {"finite number", [](gf_job_desc& d) { d.cost_s = -1; }},
      {"finite number", [](gf_job_desc& d) { d.cost_s = std::numeric_limits<double>::infinity(); }},
  };
  for (const Bad& b : bad) {
    RawState state;
    gf_job_desc desc = raw_desc(&state);
    b.spoil(desc);
    try {
      (void)gilfree::runtime::take_job_desc(desc);
      ADD_FAILURE() << b.why << " was accepted";
    } catch (const KernelError& e) {
      EXPECT_NE(std::string(e.what()).find(b.why), std::string::npos) << e.what();
    }
    EXPECT_EQ(state.released, 1) << b.why;
  }
}

TEST(KernelAbi, AStageOfTooManyChunksFailsTheJob) {
  Executor executor(1);
  gilfree::Job<> job;
  job.run = [](std::size_t, Chunk&) {};
  job.next_stage = [](std::size_t) { return Stage{std::size_t{1} << 63, {}}; };
  const auto described = start_job(executor, kTest, std::move(job));
  described->job()->wait();
  EXPECT_NE(std::string(failure_of(*described).what()).find("at most"), std::string::npos);
}

TEST(KernelAbi, DescriptorsOfOtherMinorVersionsAreReadAsFarAsTheyGo) {
  Executor executor(1);
  // A newer module's descriptor, with fields appended that this runtime does not know.
  struct Newer {
    gf_job_desc known;
    std::uint64_t appended[4];
  };
  RawState state;
  Newer newer{raw_desc(&state), {1, 2, 3, 4}};
  newer.known.struct_size = sizeof(Newer);
  {
    auto described = gilfree::runtime::take_job_desc(newer.known);
    described->start(executor, false, std::nullopt, nullptr);
    described->job()->wait();
    EXPECT_EQ(described->job()->status(), JobStatus::kSucceeded);
  }
  EXPECT_EQ(state.released, 1);
  // One smaller than ABI 1.0's is refused: its release field cannot be trusted, nor anything.
  RawState older;
  gf_job_desc truncated = raw_desc(&older);
  truncated.struct_size = gilfree::runtime::kJobDescMinSize - 1;
  EXPECT_THROW((void)gilfree::runtime::take_job_desc(truncated), KernelError);
  EXPECT_EQ(older.released, 0);
}

TEST(KernelAbi, TheTableNamesItsVersionsAndKernels) {
  const gf_api table = gilfree::runtime::core_api();
  EXPECT_EQ(table.struct_size, sizeof(gf_api));
  EXPECT_EQ(table.abi_major, GILFREE_ABI_MAJOR);
  EXPECT_EQ(table.abi_minor, GILFREE_ABI_MINOR);
  EXPECT_STRNE(table.version, "");
  EXPECT_EQ(table.submit, nullptr);  // the Python module's
  gf_kernel* a = table.kernel("test.kernel_abi.same", 20);
  EXPECT_EQ(a, table.kernel("test.kernel_abi.same", 20));
  EXPECT_NE(a, table.kernel("test.kernel_abi.other", 21));
  EXPECT_EQ(table.kernel("", 0), nullptr);
  gilfree::runtime::from_c(a).observe_running(1.0, 3.0);
  EXPECT_DOUBLE_EQ(table.estimate_s(a, 2.0), 6.0);
}

// Read-only state shared by many jobs: a table every chunk of every job reads at once.
struct Table {
  std::vector<std::uint64_t> values;
};

struct SumOfTable {
  explicit SumOfTable(gilfree::Shared<Table> shared) : table(std::move(shared)), partial(16, 0) {}
  [[nodiscard]] std::size_t chunks() const { return partial.size(); }
  void run(std::size_t chunk, Chunk&) {
    const auto& values = table->values;
    const std::size_t per = values.size() / partial.size();
    partial[chunk] = std::accumulate(
        values.begin() + static_cast<std::ptrdiff_t>(chunk * per),
        values.begin() + static_cast<std::ptrdiff_t>(chunk * per + per), std::uint64_t{0});
  }
  gilfree::Shared<Table> table;
  std::vector<std::uint64_t> partial;
};

TEST(KernelApi, SharedStateIsReadByManyJobsAtOnceAndOutlivesItsOwner) {
  Executor executor(3);
  auto owner = std::make_shared<Table>();
  owner->values.resize(16 * 1000);
  std::iota(owner->values.begin(), owner->values.end(), std::uint64_t{1});
  const std::uint64_t n = owner->values.size();
  std::weak_ptr<const Table> watch = owner;
  std::vector<std::thread> callers;
  std::atomic<int> right{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, table = gilfree::Shared<Table>(owner)] {
      for (int r = 0; r < 25; ++r) {
        const auto described = start_job(executor, kTest, SumOfTable(table));
        described->job()->wait();
        const auto& partial = described->state<SumOfTable>().partial;
        if (std::accumulate(partial.begin(), partial.end(), std::uint64_t{0}) == n * (n + 1) / 2) {
          right.fetch_add(1);
        }
      }
    });
  }
  owner.reset();  // the jobs (and their callers) keep it alive
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(right.load(), 100);
  EXPECT_TRUE(watch.expired());
}

}  // namespace
