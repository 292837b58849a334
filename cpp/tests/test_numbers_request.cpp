// NumbersRequest: a request body to its answer's bytes as one job of stages (or inline), in every
// pairing of formats; the outcomes that send a request elsewhere; cancellation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "kernels/process_numbers.hpp"
#include "memory/buffer_cache.hpp"
#include "numbers_request.hpp"
#include "runtime/executor.hpp"
#include "runtime/kernel_abi.hpp"
#include "wire/numbers_json.hpp"

namespace {

using gilfree::memory::BufferCache;
using gilfree::ops::NumbersFormat;
using gilfree::ops::NumbersRequest;
using gilfree::ops::NumbersRequestOptions;
using gilfree::ops::RequestOutcome;
using gilfree::runtime::Executor;
using gilfree::runtime::JobStatus;

constexpr std::size_t kMiB = std::size_t{1} << 20;

std::vector<std::int64_t> mixed_values(std::size_t n) {
  std::mt19937_64 rng(n);
  std::vector<std::int64_t> values(n);
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = i % 3 == 0 ? static_cast<std::int64_t>(rng()) : static_cast<std::int64_t>(i) - 50;
  }
  if (n > 1) {
    values[0] = std::numeric_limits<std::int64_t>::min();
    values[1] = std::numeric_limits<std::int64_t>::max();
  }
  return values;
}

std::string json_body(const std::vector<std::int64_t>& values) {
  const std::string answer = gilfree::wire::write_numbers_response(values.size(), values);
  return "{\"numbers\"" + answer.substr(answer.find(":["));
}

std::string int64_body(const std::vector<std::int64_t>& values) {
  std::string bytes(values.size() * 8, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto v = static_cast<std::uint64_t>(values[i]);
    for (std::size_t b = 0; b < 8; ++b) bytes[i * 8 + b] = static_cast<char>((v >> (8 * b)) & 0xff);
  }
  return bytes;
}

std::shared_ptr<NumbersRequest> request_of(BufferCache& cache, const std::string& body,
                                           NumbersRequestOptions options) {
  auto block = cache.take(body.size());
  std::memcpy(block.data(), body.data(), body.size());
  return std::make_shared<NumbersRequest>(std::move(block), body.size(), options, cache);
}

// Runs the request's job as gilfree._kernels' answer_numbers does, through the C boundary: on the
// executor, or at once on this thread (`run_inline`). The job back, finished.
std::shared_ptr<gilfree::runtime::Job> run_request(
    Executor& executor, std::shared_ptr<NumbersRequest> request, bool run_inline = false,
    std::optional<gilfree::runtime::Clock::time_point> deadline = std::nullopt) {
  const auto described = gilfree::runtime::start_job(
      executor, gilfree::ops::kNumbersRequest, gilfree::ops::NumbersRequestJob(std::move(request)),
      run_inline, deadline);
  return described->job();  // the handle waits for it as it goes
}

std::string answer_text(const NumbersRequest& request) {
  const auto bytes = request.answer();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

struct Case {
  NumbersFormat body;
  NumbersFormat answer;
};

class EveryPairing : public ::testing::TestWithParam<Case> {};

TEST_P(EveryPairing, AnswersAsTheKernelAndTheWriterDoInlineAndAsAJob) {
  BufferCache cache(64 * kMiB);
  Executor executor(3);
  for (const std::size_t n : {0U, 1U, 7U, 1000U, 300'000U}) {
    for (const std::uint64_t iterations : {0U, 3U, 1000U}) {
      if (n == 300'000 && iterations == 1000) continue;  // long in debug and sanitizer builds
      const auto values = mixed_values(n);
      std::vector<std::int64_t> expected(n);
      gilfree::kernels::process_numbers(values, expected, iterations);
      const std::string body =
          GetParam().body == NumbersFormat::kJson ? json_body(values) : int64_body(values);
      const std::string want = GetParam().answer == NumbersFormat::kJson
                                   ? gilfree::wire::write_numbers_response(n, expected)
                                   : int64_body(expected);
      const NumbersRequestOptions options{GetParam().body, GetParam().answer, iterations};

      auto inline_request = request_of(cache, body, options);
      EXPECT_EQ(run_request(executor, inline_request, true)->status(), JobStatus::kSucceeded);
      ASSERT_EQ(inline_request->outcome(), RequestOutcome::kOk) << n;
      EXPECT_EQ(inline_request->count(), n);
      EXPECT_TRUE(answer_text(*inline_request) == want) << n << " x " << iterations;

      auto request = request_of(cache, body, options);
      const auto job = run_request(executor, request);
      ASSERT_EQ(job->status(), JobStatus::kSucceeded);
      EXPECT_FALSE(job->ran_inline());
      ASSERT_EQ(request->outcome(), RequestOutcome::kOk);
      EXPECT_TRUE(answer_text(*request) == want) << n << " x " << iterations;
      EXPECT_TRUE(request->body().empty());  // processed in place, or parsed and released
    }
  }
  EXPECT_EQ(executor.stats().queued_cpu_s, 0.0);
}

INSTANTIATE_TEST_SUITE_P(Formats, EveryPairing,
                         ::testing::Values(Case{NumbersFormat::kJson, NumbersFormat::kJson},
                                           Case{NumbersFormat::kJson, NumbersFormat::kInt64},
                                           Case{NumbersFormat::kInt64, NumbersFormat::kJson},
                                           Case{NumbersFormat::kInt64, NumbersFormat::kInt64}));

TEST(NumbersRequest, NotCanonicalKeepsTheBodyForTheSlowPath) {
  BufferCache cache(64 * kMiB);
  Executor executor(2);
  const std::string body = R"({"numbers": [1, "2"]})";
  auto request = request_of(cache, body, {});
  EXPECT_EQ(run_request(executor, request)->status(), JobStatus::kSucceeded);
  EXPECT_EQ(request->outcome(), RequestOutcome::kNotCanonical);
  EXPECT_EQ(request->body(), body);
  EXPECT_TRUE(request->answer().empty());
}

TEST(NumbersRequest, LimitsAreCheckedBeforeAnyWork) {
  BufferCache cache(64 * kMiB);
  Executor executor(1);
  const auto values = mixed_values(100);
  for (const auto format : {NumbersFormat::kJson, NumbersFormat::kInt64}) {
    const std::string body =
        format == NumbersFormat::kJson ? json_body(values) : int64_body(values);
    auto many = request_of(cache, body, {format, NumbersFormat::kJson, 1, 99});
    run_request(executor, many, true);
    EXPECT_EQ(many->outcome(), RequestOutcome::kTooMany);
    EXPECT_EQ(many->count(), 100U);

    auto work = request_of(cache, body, {format, NumbersFormat::kJson, 10, 100, 999});
    run_request(executor, work, true);
    EXPECT_EQ(work->outcome(), RequestOutcome::kTooMuchWork);
    EXPECT_EQ(work->count(), 100U);
    EXPECT_TRUE(work->answer().empty());

    auto fits = request_of(cache, body, {format, NumbersFormat::kJson, 10, 100, 1000});
    run_request(executor, fits, true);
    EXPECT_EQ(fits->outcome(), RequestOutcome::kOk);
  }
}

TEST(NumbersRequest, ARequestRunsOnce) {
  BufferCache cache(64 * kMiB);
  Executor executor(1);
  auto request = request_of(cache, json_body({1, 2}), {});
  run_request(executor, request, true);
  EXPECT_THROW(run_request(executor, request, true), gilfree::InvalidInputError);
}

TEST(NumbersRequest, DeclaresABoundThenTheRealCost) {
  BufferCache cache(64 * kMiB);
  const double step = gilfree::ops::process_numbers_step_s();
  // "{"numbers":[...]}" of 10 numbers of 1 to 2 digits: far fewer numbers than bytes / 2.
  const std::string body = json_body({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  const auto request = request_of(cache, body, {NumbersFormat::kJson, NumbersFormat::kJson, 1000});
  const std::size_t most = body.size() / 2 + 1;
  // Reading the body, then every number the body could hold processed and written.
  const double bound = request->cost_bound_s();
  EXPECT_GT(bound, gilfree::ops::process_numbers_cost_s(most, 1000));
  EXPECT_LT(bound, gilfree::ops::process_numbers_cost_s(most, 1000) * 1.5);
  // No more than max_work steps: beyond them nothing is computed.
  const auto capped =
      request_of(cache, body, {NumbersFormat::kJson, NumbersFormat::kJson, 1000, 1'000'000, 5000});
  EXPECT_LT(capped->cost_bound_s(), bound);
  EXPECT_GT(capped->cost_bound_s(), 5000 * step);
  // An int64 body holds exactly its numbers, and an int64 answer needs no text.
  const auto binary = request_of(cache, int64_body(mixed_values(10)),
                                 {NumbersFormat::kInt64, NumbersFormat::kInt64});
  EXPECT_DOUBLE_EQ(binary->cost_bound_s(), gilfree::ops::process_numbers_cost_s(10, 1000));

  // Once parsed, the job declares the cost of the numbers it found.
  Executor executor(1);
  auto& kernel = gilfree::runtime::kernel_model(gilfree::ops::kNumbersRequest.name);
  const double declared_before = kernel.stats().declared_cpu_s;
  auto parsed = request_of(cache, body, {NumbersFormat::kJson, NumbersFormat::kJson, 1000});
  EXPECT_EQ(run_request(executor, parsed)->status(), JobStatus::kSucceeded);
  const double declared = kernel.stats().declared_cpu_s - declared_before;
  EXPECT_GT(declared, gilfree::ops::process_numbers_cost_s(10, 1000));
  EXPECT_LT(declared, bound);
}

TEST(NumbersRequest, InlineWorkIsAdmittedLikeAJob) {
  BufferCache cache(64 * kMiB);
  const std::string body = int64_body(mixed_values(10));
  const NumbersRequestOptions options{NumbersFormat::kInt64, NumbersFormat::kInt64, 1000};
  auto request = request_of(cache, body, options);
  auto fits = request_of(cache, body, options);
  gilfree::runtime::use_core_api();
  // Room for one job's estimate and a little more, while another holds the queue.
  const double estimate = gilfree::ops::kNumbersRequest.estimate_s(request->cost_bound_s());
  Executor executor(1, estimate * 2.5);
  std::atomic<bool> release{false};
  gilfree::runtime::JobSpec holder;
  holder.chunks = 1;
  holder.cost_s = estimate * 2;
  holder.kernel = &gilfree::runtime::kernel_model("test.numbers_request.holder");
  holder.run_chunk = [&](std::size_t, gilfree::runtime::ChunkContext&) {
    while (!release.load()) std::this_thread::yield();
  };
  const auto held = executor.submit(std::move(holder));
  EXPECT_THROW(run_request(executor, request, true), gilfree::OverloadedError);
  EXPECT_EQ(request->outcome(), RequestOutcome::kPending);
  release = true;
  held->wait();
  run_request(executor, fits, true);
  EXPECT_EQ(fits->outcome(), RequestOutcome::kOk);
  EXPECT_EQ(executor.stats().queued_cpu_s, 0.0);
}

TEST(NumbersRequest, AnInt64BodyMustBeWholeValues) {
  BufferCache cache(64 * kMiB);
  EXPECT_THROW(request_of(cache, std::string(12, '\0'), {NumbersFormat::kInt64}),
               gilfree::InvalidInputError);
}

TEST(NumbersRequest, CancelStopsItsWork) {
  BufferCache cache(64 * kMiB);
  Executor executor(2);
  const auto values = mixed_values(200'000);
  auto request = request_of(cache, int64_body(values),
                            {NumbersFormat::kInt64, NumbersFormat::kJson, 100'000'000});
  const auto described = gilfree::runtime::start_job(executor, gilfree::ops::kNumbersRequest,
                                                     gilfree::ops::NumbersRequestJob(request));
  const auto job = described->job();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  job->cancel();
  job->wait();
  EXPECT_EQ(job->status(), JobStatus::kCancelled);
  EXPECT_EQ(request->outcome(), RequestOutcome::kPending);
  EXPECT_EQ(executor.stats().queued_cpu_s, 0.0);
}

TEST(NumbersRequest, ADeadlineStopsTheParse) {
  BufferCache cache(256 * kMiB);
  Executor executor(1);
  // Tens of milliseconds of parsing (more in sanitizer builds), against a 1 ms deadline. A whole
  // parse and a stopped job run in turns, three times, and the quickest of each are compared:
  // the machine's other load (ctest runs tests in parallel) slows one run, not three.
  const std::string body = json_body(mixed_values(3'000'000));
  auto whole_parse = std::chrono::steady_clock::duration::max();
  auto stopped_job = std::chrono::steady_clock::duration::max();
  for (int i = 0; i < 3; ++i) {
    const auto parse_started = std::chrono::steady_clock::now();
    ASSERT_EQ(gilfree::wire::parse_numbers_request(body, 3'000'000, cache).status,
              gilfree::wire::ParseStatus::kOk);
    whole_parse = std::min(whole_parse, std::chrono::steady_clock::now() - parse_started);
    auto request = request_of(cache, body, {NumbersFormat::kJson, NumbersFormat::kJson, 1});
    const auto job_started = std::chrono::steady_clock::now();
    const auto job = run_request(executor, request, false,
                                 gilfree::runtime::Clock::now() + std::chrono::milliseconds(1));
    stopped_job = std::min(stopped_job, std::chrono::steady_clock::now() - job_started);
    EXPECT_EQ(job->status(), JobStatus::kDeadlineExceeded);
    EXPECT_EQ(request->outcome(), RequestOutcome::kPending);
    EXPECT_EQ(request->body(), body);  // untouched: nothing parsed is kept
  }
  // Stopped within the parse, not after it: a small part of a whole parse's time.
  EXPECT_LT(stopped_job, whole_parse / 2);
  EXPECT_EQ(executor.stats().queued_cpu_s, 0.0);
  EXPECT_EQ(executor.stats().active_jobs, 0U);
}

TEST(NumbersRequest, BuffersComeBackToTheCache) {
  BufferCache cache(64 * kMiB);
  Executor executor(2);
  const std::string body = json_body(mixed_values(100'000));
  for (int i = 0; i < 3; ++i) {
    auto request = request_of(cache, body, {NumbersFormat::kJson, NumbersFormat::kJson, 1});
    run_request(executor, request);
    ASSERT_EQ(request->outcome(), RequestOutcome::kOk);
  }
  // Two buffers a request (the body's, which then holds the answer, and the numbers'): the first
  // request allocated them, the next ones found them again.
  const auto stats = cache.stats();
  EXPECT_EQ(stats.allocated, 2U);
  EXPECT_EQ(stats.reused, 4U);
}

// A JSON request over `values` in a buffer of exactly the body's size, run as a job; returns it
// and where its body's buffer was.
std::pair<std::shared_ptr<NumbersRequest>, const std::byte*> run_in_exact_buffer(
    BufferCache& cache, Executor& executor, const std::vector<std::int64_t>& values) {
  const std::string body = json_body(values);
  auto block = cache.take(body.size());
  std::memcpy(block.data(), body.data(), body.size());
  const std::byte* memory = block.data();
  auto request = std::make_shared<NumbersRequest>(
      std::move(block), body.size(),
      NumbersRequestOptions{NumbersFormat::kJson, NumbersFormat::kJson, 5}, cache);
  run_request(executor, request);
  EXPECT_EQ(request->outcome(), RequestOutcome::kOk);
  return {request, memory};
}

TEST(NumbersRequest, AJsonAnswerGoesIntoTheBodysBufferWhenItFits) {
  BufferCache cache(64 * kMiB);
  Executor executor(2);
  // Long numbers in, short results out (at most 11 characters each): the answer fits the body.
  const auto [fits, body_memory] =
      run_in_exact_buffer(cache, executor, std::vector<std::int64_t>(100'000, -1'234'567'890'123));
  EXPECT_EQ(fits->answer().data(), body_memory);

  // Short numbers in, longer results out: a new buffer, and the right answer in it.
  const std::vector<std::int64_t> sevens(100'000, 7);
  const auto [larger, short_memory] = run_in_exact_buffer(cache, executor, sevens);
  EXPECT_NE(larger->answer().data(), short_memory);
  std::vector<std::int64_t> results(sevens.size());
  gilfree::kernels::process_numbers(sevens, results, 5);
  EXPECT_TRUE(answer_text(*larger) == gilfree::wire::write_numbers_response(100'000, results));
}

}  // namespace

namespace {

using gilfree::ops::RequestBody;

std::span<const std::byte> bytes_of(const std::string& text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

TEST(RequestBody, GathersPiecesWithRoomForTheAnswerAndIsTakenOnce) {
  BufferCache cache(64 * kMiB);
  const std::string body = json_body(mixed_values(50'000));
  for (const std::size_t expected : {std::size_t{0}, body.size(), std::size_t{10}}) {
    RequestBody gathered(expected, cache);
    for (std::size_t at = 0; at < body.size(); at += 4096) {
      gathered.append(bytes_of(body.substr(at, 4096)));
    }
    ASSERT_EQ(gathered.size(), body.size());
    const NumbersRequest request(gathered, {NumbersFormat::kJson, NumbersFormat::kJson, 1});
    EXPECT_EQ(request.body(), body);
    EXPECT_EQ(gathered.size(), 0U);
    EXPECT_THROW(gathered.append(bytes_of("1")), gilfree::InvalidInputError);
    EXPECT_THROW(NumbersRequest(gathered, {}), gilfree::InvalidInputError);
  }
}

TEST(RequestBody, ReservesNoMoreThanAStepBeyondTheBytesThatArrived) {
  BufferCache cache(0);
  const std::size_t declared = 64 * kMiB;
  RequestBody gathered(declared, cache);
  EXPECT_EQ(gathered.capacity(), 0U);  // a declared length alone reserves nothing
  const std::string piece(64 * 1024, '7');
  std::size_t grown = 0;
  while (gathered.size() < declared) {
    const std::size_t before = gathered.capacity();
    gathered.append(bytes_of(piece));
    EXPECT_LE(gathered.capacity(), gathered.size() + gilfree::ops::kBodyGrowthStep);
    EXPECT_LE(gathered.capacity(), std::max(2 * gathered.size(), gilfree::ops::kBodyFirstBlock));
    EXPECT_GE(gathered.capacity(), gathered.size());
    if (gathered.capacity() != before) ++grown;
  }
  // Doubling to 8 MiB, then steps of 8 MiB: a few copies, not one per piece.
  EXPECT_LE(grown, 4 + declared / gilfree::ops::kBodyGrowthStep);
  // A small declared body gets room for its answer at once, with the first piece.
  RequestBody small(1000, cache);
  small.append(bytes_of(piece.substr(0, 10)));
  EXPECT_EQ(small.capacity(), 2000U);
}

TEST(RequestBody, OutgrownBuffersAreNotKeptForReuse) {
  // Kept, the 1, 2 and 4 MiB buffers a body outgrows on its way to 8 MiB would stay resident in
  // the cache beside the buffer that holds it.
  BufferCache cache(256 * kMiB);
  RequestBody gathered(7 * kMiB, cache);
  const std::string piece(64 * 1024, '7');
  while (gathered.size() < 7 * kMiB) gathered.append(bytes_of(piece));
  EXPECT_EQ(cache.stats().retained_bytes, 0U);
  EXPECT_GE(cache.stats().allocated, 3U);  // it did grow
}

TEST(RequestBody, ARefusedBodyIsLeftAsItWas) {
  BufferCache cache(64 * kMiB);
  RequestBody gathered(0, cache);
  gathered.append(bytes_of(std::string(12, '\0')));
  EXPECT_THROW(NumbersRequest(gathered, {NumbersFormat::kInt64}), gilfree::InvalidInputError);
  EXPECT_EQ(gathered.size(), 12U);
  gathered.append(bytes_of(std::string(4, '\0')));
  const NumbersRequest request(gathered, {NumbersFormat::kInt64});
  EXPECT_EQ(request.body().size(), 16U);
}

}  // namespace
