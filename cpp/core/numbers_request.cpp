// A POST /process-numbers request as stages of one job: take the numbers, process them in
// parallel chunks, write the answer's text in parallel chunks.
#include "numbers_request.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "errors.hpp"
#include "wire/numbers_json.hpp"

namespace gilfree::ops {
namespace {

// Declared costs of the parts around process_numbers (the runtime corrects them by measuring).
constexpr double kParseSecondsPerByte = 1e-9;
constexpr double kWriteSecondsPerNumber = 5e-9;

// The wire's int64 values are little-endian; a big-endian host swaps them in place.
void to_or_from_little_endian(std::span<std::int64_t> values) noexcept {
  if constexpr (std::endian::native == std::endian::big) {
    for (auto& v : values)
      v = static_cast<std::int64_t>(__builtin_bswap64(static_cast<std::uint64_t>(v)));
  }
}

}  // namespace

RequestBody::RequestBody(std::size_t expected_bytes, memory::BufferCache& cache)
    : cache_(&cache), expected_(expected_bytes) {}

std::size_t RequestBody::room_for(std::size_t needed) const noexcept {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  const std::size_t size = std::max(expected_, needed);
  const std::size_t target = size <= kMax / kBodyCapacityFactor ? size * kBodyCapacityFactor : kMax;
  const std::size_t stepped = needed <= kMax - kBodyGrowthStep ? needed + kBodyGrowthStep : kMax;
  const std::size_t doubled =
      std::max(kBodyFirstBlock, block_.capacity() <= kMax / 2 ? block_.capacity() * 2 : kMax);
  return std::max(needed, std::min({target, doubled, stepped}));
}

void RequestBody::check_not_taken() const {
  if (taken_) throw InvalidInputError("this body was already handed to a request");
}

void RequestBody::append(std::span<const std::byte> piece) {
  check_not_taken();
  if (piece.size() > block_.capacity() - size_) {
    if (piece.size() > std::numeric_limits<std::size_t>::max() - size_) throw std::bad_alloc();
    memory::Block grown = cache_->take(room_for(size_ + piece.size()));
    if (size_ > 0) std::memcpy(grown.data(), block_.data(), size_);
    // Outgrown on the way to the body's size: freed, not kept for reuse, where it would stay
    // resident beside the final buffer (its size is no request's).
    block_.discard();
    block_ = std::move(grown);
  }
  if (!piece.empty()) std::memcpy(block_.data() + size_, piece.data(), piece.size());
  size_ += piece.size();
}

void NumbersRequest::check_body_size(const NumbersRequestOptions& options, std::size_t size) {
  if (options.body_format == NumbersFormat::kInt64 && size % sizeof(std::int64_t) != 0) {
    throw InvalidInputError("an int64 body holds 8-byte values: " + std::to_string(size) +
                            " bytes is not a multiple of 8");
  }
}

NumbersRequest::NumbersRequest(memory::Block body, std::size_t size, NumbersRequestOptions options,
                               memory::BufferCache& cache)
    : options_(options), cache_(cache), body_(std::move(body)), body_size_(size) {
  if (size > body_.capacity()) throw std::invalid_argument("the body is larger than its buffer");
  check_body_size(options_, size);
}

NumbersRequest::NumbersRequest(RequestBody& body, NumbersRequestOptions options)
    : options_(options), cache_(*body.cache_) {
  body.check_not_taken();
  check_body_size(options_, body.size_);
  body.taken_ = true;
  body_ = body.block_.empty() ? cache_.take(0) : std::move(body.block_);
  body_size_ = std::exchange(body.size_, 0);
}

std::span<const std::byte> NumbersRequest::answer() const noexcept {
  if (outcome_ != RequestOutcome::kOk) return {};
  if (options_.answer_format == NumbersFormat::kInt64) return std::as_bytes(numbers_);
  return {answer_storage_.data(), answer_size_};
}

std::string_view NumbersRequest::body() const noexcept {
  if (body_.empty() || outcome_ == RequestOutcome::kOk) return {};
  return {reinterpret_cast<const char*>(body_.data()), body_size_};
}

double NumbersRequest::cost_s(std::size_t count) const noexcept {
  const double parse = options_.body_format == NumbersFormat::kJson
                           ? static_cast<double>(body_size_) * kParseSecondsPerByte
                           : 0.0;
  // Beyond max_work steps nothing is computed (the request is refused).
  const double process =
      std::min(process_numbers_cost_s(count, options_.iterations),
               static_cast<double>(options_.max_work) * process_numbers_step_s());
  const double write = options_.answer_format == NumbersFormat::kJson
                           ? static_cast<double>(count) * kWriteSecondsPerNumber
                           : 0.0;
  return parse + process + write;
}

double NumbersRequest::cost_bound_s() const noexcept {
  // The shortest JSON number with its comma takes 2 bytes.
  const std::size_t most = options_.body_format == NumbersFormat::kInt64
                               ? body_size_ / sizeof(std::int64_t)
                               : body_size_ / 2 + 1;
  return cost_s(std::min(most, options_.max_numbers));
}

void NumbersRequest::take(Chunk& context) {
  if (options_.body_format == NumbersFormat::kJson) {
    wire::ParsedNumbers parsed = wire::parse_numbers_request(body(), options_.max_numbers, cache_,
                                                             &stop_requested, &context);
    if (parsed.status == wire::ParseStatus::kStopped) {
      stopped_ = true;  // the job ends, cancelled or past its deadline, without another stage
      return;
    }
    count_ = parsed.count;
    if (parsed.status == wire::ParseStatus::kNotCanonical) {
      outcome_ = RequestOutcome::kNotCanonical;
      return;  // the body stays, for the slow path
    }
    if (parsed.status == wire::ParseStatus::kTooMany) {
      outcome_ = RequestOutcome::kTooMany;
      body_ = memory::Block();
      return;
    }
    // Parsed: the body's buffer may hold the JSON answer; nothing else needs it.
    if (options_.answer_format != NumbersFormat::kJson) body_ = memory::Block();
    numbers_storage_ = std::move(parsed.storage);
    numbers_ = parsed.numbers;
  } else {
    count_ = body_size_ / sizeof(std::int64_t);
    if (count_ > options_.max_numbers) {
      outcome_ = RequestOutcome::kTooMany;
      return;
    }
    numbers_ = {reinterpret_cast<std::int64_t*>(body_.data()), count_};
    to_or_from_little_endian(numbers_);
  }
  if (process_numbers_steps(count_, options_.iterations) > options_.max_work) {
    outcome_ = RequestOutcome::kTooMuchWork;
    numbers_ = {};
    numbers_storage_ = memory::Block();
  }
}

void NumbersRequest::process(std::size_t chunk, Chunk& context) {
  if (!chunks_->run(chunk, context)) return;  // stopped early, or more slices to come
  const auto values = chunks_->output(chunk);
  if (options_.answer_format == NumbersFormat::kJson) {
    text_offsets_[chunk] = wire::values_text_size(values, chunk == 0);
  } else {
    to_or_from_little_endian(values);
  }
}

void NumbersRequest::write(std::size_t chunk) noexcept {
  char* const base = reinterpret_cast<char*>(answer_storage_.data());
  if (chunk == 0) wire::write_response_head(count_, base);
  if (chunks_)
    wire::write_values_text(chunks_->output(chunk), chunk == 0, base + text_offsets_[chunk]);
  if (chunk + 1 == text_offsets_.size() || text_offsets_.empty()) {
    std::memcpy(base + answer_size_ - wire::kResponseTail.size(), wire::kResponseTail.data(),
                wire::kResponseTail.size());
  }
}

void NumbersRequest::run_chunk(std::size_t chunk, Chunk& context) {
  switch (phase_) {
    case Phase::kTake:
      take(context);
      return;
    case Phase::kProcess:
      process(chunk, context);
      return;
    case Phase::kWrite:
      write(chunk);
      return;
    case Phase::kDone:
      return;
  }
}

Stage NumbersRequest::next_stage() {
  const bool json_answer = options_.answer_format == NumbersFormat::kJson;
  // The whole work's cost, now that the numbers are counted.
  const double known_cost = cost_s(count_);
  if (phase_ == Phase::kTake) {
    if (outcome_ != RequestOutcome::kPending || stopped_) {
      phase_ = Phase::kDone;
      return Stage{0, cost_s(0)};  // only the body was read
    }
    chunks_ = std::make_unique<ProcessNumbersChunks>(numbers_, numbers_, options_.iterations);
    if (json_answer) text_offsets_.assign(chunks_->chunks(), 0);
    if (chunks_->chunks() > 0) {
      phase_ = Phase::kProcess;
      return Stage{chunks_->chunks(), known_cost};
    }
    chunks_.reset();  // no numbers: nothing to process
  }
  if (phase_ != Phase::kWrite && json_answer) {
    // The text's exact size, and where each chunk's part of it starts.
    const std::size_t head = wire::response_head_size(count_);
    std::size_t at = head;
    for (std::size_t& offset : text_offsets_) at += std::exchange(offset, at);
    answer_size_ = at + wire::kResponseTail.size();
    if (options_.body_format == NumbersFormat::kJson && body_.capacity() >= answer_size_) {
      answer_storage_ = std::move(body_);  // the parsed JSON body's buffer
    } else {
      // An int64 body holds the numbers; a JSON body's buffer too small for the answer would
      // only add to the peak, kept for reuse.
      if (options_.body_format == NumbersFormat::kJson) body_.discard();
      answer_storage_ = cache_.take(answer_size_);
    }
    phase_ = Phase::kWrite;
    return Stage{std::max<std::size_t>(text_offsets_.size(), 1), known_cost};
  }
  phase_ = Phase::kDone;
  outcome_ = RequestOutcome::kOk;
  return Stage{0, std::nullopt};
}

NumbersRequestJob::NumbersRequestJob(std::shared_ptr<NumbersRequest> request)
    : request_(std::move(request)) {
  if (request_->started_.exchange(true)) throw InvalidInputError("this request has already run");
}

}  // namespace gilfree::ops
