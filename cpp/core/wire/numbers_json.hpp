// The JSON wire format of POST /process-numbers: a strict parser of the canonical request and a
// writer of the response. Anything the parser does not take as canonical goes to the slow path
// (pydantic), so acceptance and errors stay exactly FastAPI's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kernels/stop_poll.hpp"
#include "memory/buffer_cache.hpp"

namespace gilfree::wire {

enum class ParseStatus : std::uint8_t {
  kOk,            // canonical: `numbers` holds the values
  kNotCanonical,  // let the slow path decide (it may accept with coercion, or answer 422)
  kTooMany,       // canonical, but more than max_numbers values (only counted past it): 413
  kStopped,       // the caller's stop poll said stop: nothing to go by
};

struct ParsedNumbers {
  ParseStatus status = ParseStatus::kNotCanonical;
  memory::Block storage;            // holds `numbers` (kOk)
  std::span<std::int64_t> numbers;  // the values (kOk); empty otherwise
  std::size_t count = 0;            // values in the body
};

// The canonical request: ASCII only; an object whose keys are plain strings (no escapes); the key
// "numbers" bound to an array of JSON integers (-?(0|[1-9][0-9]*)) within int64; other keys bound
// to an integer, true, false, null or a plain string (skipped, as pydantic ignores them); JSON
// whitespace anywhere between tokens. A repeated "numbers" resolves as Python's json does: the
// last one wins. Everything else (floats, strings, escapes, nesting, non-ASCII, an integer beyond
// int64, malformed JSON, a missing "numbers") is kNotCanonical. The numbers' storage comes from
// `cache`, sized once. A long parse polls `should_stop(context)` (when given) every
// kParseStopPollValues values, and is kStopped as soon as it says stop.
inline constexpr std::size_t kParseStopPollValues = std::size_t{1} << 15;
[[nodiscard]] ParsedNumbers parse_numbers_request(
    std::string_view body, std::size_t max_numbers,
    memory::BufferCache& cache = memory::process_buffer_cache(),
    kernels::StopPoll should_stop = nullptr, const void* context = nullptr);

// {"original_count":N,"processed_result":[...]} with no spaces, as json.dumps(obj,
// separators=(",", ":")) writes it.
[[nodiscard]] std::string write_numbers_response(std::size_t original_count,
                                                 std::span<const std::int64_t> values);

// The answer in pieces, for writers that fill it in parallel: the head, then the values (each
// after a comma but the array's first), then the tail.
inline constexpr std::string_view kResponseTail = "]}";
// Bytes of `{"original_count":N,"processed_result":[`.
[[nodiscard]] std::size_t response_head_size(std::size_t original_count) noexcept;
char* write_response_head(std::size_t original_count, char* out) noexcept;
// Bytes of `values` in the array; `first`: they start it (no comma before the first of them).
[[nodiscard]] std::size_t values_text_size(std::span<const std::int64_t> values,
                                           bool first) noexcept;
// Writes exactly values_text_size(values, first) bytes; returns the end.
char* write_values_text(std::span<const std::int64_t> values, bool first, char* out) noexcept;

// Decimal text of `value` into `out` (at least 20 bytes); returns the length.
std::size_t format_int64(std::int64_t value, char* out) noexcept;

}  // namespace gilfree::wire
