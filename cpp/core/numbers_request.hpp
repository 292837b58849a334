// One POST /process-numbers request as one job of the public kernel API: the request body in, the
// answer's bytes out.
#pragma once

#include <gilfree/kernel.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "memory/buffer_cache.hpp"
#include "ops.hpp"

namespace gilfree::ops {

// Its jobs are counted apart from process_numbers': their cost is the parse and the writing too.
inline constexpr Kernel kNumbersRequest{"process_numbers_request"};

enum class NumbersFormat : std::uint8_t {
  kJson,   // {"numbers": [...]} in, {"original_count": N, "processed_result": [...]} out
  kInt64,  // little-endian int64 values, both ways
};

enum class RequestOutcome : std::uint8_t {
  kPending,       // the work has not finished (or did not succeed)
  kOk,            // answer() holds the answer
  kNotCanonical,  // a JSON body the strict parser leaves to the slow path (see wire/)
  kTooMany,       // more than max_numbers numbers; count() says how many
  kTooMuchWork,   // count() x iterations is more than max_work
};

struct NumbersRequestOptions {
  NumbersFormat body_format = NumbersFormat::kJson;
  NumbersFormat answer_format = NumbersFormat::kJson;
  std::uint64_t iterations = 1000;
  std::size_t max_numbers = std::numeric_limits<std::size_t>::max();
  std::uint64_t max_work = std::numeric_limits<std::uint64_t>::max();
};

// Bodies are best read into a buffer of kBodyCapacityFactor times their size: the part never
// written costs address space only, and a JSON answer that fits (most do: the results are at most
// 11 characters each, and the numbers they come from rarely shorter) is then written into the
// body's own buffer once the body is parsed, so a JSON request holds two buffers at a time, not
// three.
inline constexpr std::size_t kBodyCapacityFactor = 2;

// A declared length is only a client's claim: a body's buffer follows the bytes that have
// arrived, from a first block of at most kBodyFirstBlock, doubling, but never holding more than
// kBodyGrowthStep beyond them.
inline constexpr std::size_t kBodyFirstBlock = std::size_t{1} << 20;
inline constexpr std::size_t kBodyGrowthStep = std::size_t{8} << 20;

// A request body gathered in pieces into one buffer of `cache`. Nothing is reserved before the
// first byte arrives; the buffer then grows towards kBodyCapacityFactor times the declared (or,
// past it, the received) size as above. Handed to a NumbersRequest, it is taken without a copy and
// empty from then on.
class RequestBody {
 public:
  explicit RequestBody(std::size_t expected_bytes = 0,
                       memory::BufferCache& cache = memory::process_buffer_cache());

  // InvalidInputError once the body has been taken; std::bad_alloc when there is no memory for
  // the piece (the body is then left as it was).
  void append(std::span<const std::byte> piece);
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // Bytes its buffer holds room for.
  [[nodiscard]] std::size_t capacity() const noexcept { return block_.capacity(); }

 private:
  friend class NumbersRequest;
  // The capacity to grow to for `needed` bytes.
  [[nodiscard]] std::size_t room_for(std::size_t needed) const noexcept;
  void check_not_taken() const;

  memory::BufferCache* cache_;
  memory::Block block_;
  std::size_t expected_ = 0;
  std::size_t size_ = 0;
  bool taken_ = false;
};

// The request and its results. Its work, as stages of one job (numbers_request_spec):
//   1. one chunk takes the numbers: parses a JSON body (into a buffer of their own; a cancel or
//      a passed deadline stops the parse within microseconds) or takes an int64 body's values in
//      place, and checks max_numbers and max_work;
//   2. process_numbers runs on them in place, in parallel chunks; for a JSON answer each chunk
//      also measures its values' text;
//   3. for a JSON answer, the chunks write their text side by side into one buffer, in parallel:
//      the JSON body's own buffer when the answer fits there, else a new one of the exact size (an
//      int64 answer is the numbers' own memory).
// Every large buffer comes from `cache`. The results are valid once the work has succeeded.
class NumbersRequest {
 public:
  // The first `size` bytes of `body` are the request body; an int64 body must be a multiple of 8
  // bytes (InvalidInputError otherwise).
  NumbersRequest(memory::Block body, std::size_t size, NumbersRequestOptions options,
                 memory::BufferCache& cache = memory::process_buffer_cache());
  // Takes a gathered body (checked first: a refused body is left as it was).
  NumbersRequest(RequestBody& body, NumbersRequestOptions options);

  [[nodiscard]] const NumbersRequestOptions& options() const noexcept { return options_; }
  [[nodiscard]] RequestOutcome outcome() const noexcept { return outcome_; }
  // Numbers in the body: all of them for kTooMany, 0 for kNotCanonical.
  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  // kOk: the answer's bytes (JSON text, or little-endian int64 values).
  [[nodiscard]] std::span<const std::byte> answer() const noexcept;
  // The body as received, for the slow path: before the work, and after it unless the outcome is
  // kOk (an int64 body was then processed in place, a JSON body released once parsed).
  [[nodiscard]] std::string_view body() const noexcept;
  // Declared CPU seconds of its work before the body is parsed: reading the body, and
  // process_numbers and the answer's text for as many numbers as the body can hold (but no more
  // than max_work steps: beyond them nothing is computed).
  [[nodiscard]] double cost_bound_s() const noexcept;

 private:
  enum class Phase : std::uint8_t { kTake, kProcess, kWrite, kDone };
  friend class NumbersRequestJob;

  void run_chunk(std::size_t chunk, Chunk& context);
  Stage next_stage();
  void take(Chunk& context);
  void process(std::size_t chunk, Chunk& context);
  void write(std::size_t chunk) noexcept;
  // Declared CPU seconds of the whole work for a body of `count` numbers.
  [[nodiscard]] double cost_s(std::size_t count) const noexcept;
  static void check_body_size(const NumbersRequestOptions& options, std::size_t size);

  std::atomic<bool> started_{false};  // its work runs once
  const NumbersRequestOptions options_;
  memory::BufferCache& cache_;
  memory::Block body_;
  std::size_t body_size_;

  Phase phase_ = Phase::kTake;
  bool stopped_ = false;  // the parse stopped early: nothing more to do
  RequestOutcome outcome_ = RequestOutcome::kPending;
  std::size_t count_ = 0;
  memory::Block numbers_storage_;  // parsed numbers (a JSON body)
  std::span<std::int64_t> numbers_;
  std::unique_ptr<ProcessNumbersChunks> chunks_;
  std::vector<std::size_t> text_offsets_;  // per chunk: its text's size, then where it starts
  memory::Block answer_storage_;           // a JSON answer
  std::size_t answer_size_ = 0;
};

// The request's work as a job of stages (see NumbersRequest), holding the request until the job
// is released. A request runs once: InvalidInputError for a second job.
class NumbersRequestJob {
 public:
  explicit NumbersRequestJob(std::shared_ptr<NumbersRequest> request);

  [[nodiscard]] double cost_s() const noexcept { return request_->cost_bound_s(); }
  void run(std::size_t chunk, Chunk& context) { request_->run_chunk(chunk, context); }
  Stage next_stage(std::size_t /*finished*/) { return request_->next_stage(); }
  [[nodiscard]] const std::shared_ptr<NumbersRequest>& request() const noexcept { return request_; }

 private:
  std::shared_ptr<NumbersRequest> request_;
};

}  // namespace gilfree::ops
