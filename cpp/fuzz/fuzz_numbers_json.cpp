// libFuzzer target of the wire path: no input crashes, hangs or reads out of bounds (ASan,
// UBSan); whatever the parser takes as canonical round-trips exactly through the response writer;
// and a whole request over the same body (parsed, processed and written in its stages) answers
// exactly what the kernel and the writer give, or sends the body to the slow path untouched.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/process_numbers.hpp"
#include "memory/buffer_cache.hpp"
#include "numbers_request.hpp"
#include "runtime/executor.hpp"
#include "runtime/kernel_abi.hpp"
#include "wire/numbers_json.hpp"

namespace {

using gilfree::ops::NumbersFormat;
using gilfree::ops::RequestOutcome;
using gilfree::wire::ParseStatus;

constexpr std::size_t kMaxNumbers = 1000;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

std::shared_ptr<gilfree::ops::NumbersRequest> answered(std::string_view body,
                                                       NumbersFormat answer_format,
                                                       std::uint64_t iterations) {
  static gilfree::runtime::Executor executor(1);  // admits the inline runs; its worker idles
  // As the service reads a body: room for the answer too (kBodyCapacityFactor).
  auto block =
      gilfree::memory::process_buffer_cache().take(body.size() * gilfree::ops::kBodyCapacityFactor);
  if (!body.empty()) std::memcpy(block.data(), body.data(), body.size());
  auto request = std::make_shared<gilfree::ops::NumbersRequest>(
      std::move(block), body.size(),
      gilfree::ops::NumbersRequestOptions{NumbersFormat::kJson, answer_format, iterations,
                                          kMaxNumbers});
  // At once on this thread, through the C boundary, as gilfree._kernels runs a small request.
  const auto job = gilfree::runtime::start_job(executor, gilfree::ops::kNumbersRequest,
                                               gilfree::ops::NumbersRequestJob(request),
                                               /*run_inline=*/true);
  check(job->job()->status() == gilfree::runtime::JobStatus::kSucceeded);
  return request;
}

std::string_view text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto parsed = gilfree::wire::parse_numbers_request(body, kMaxNumbers);
  const std::uint64_t iterations = size == 0 ? 0 : data[size - 1] % 4;
  const auto request = answered(body, NumbersFormat::kJson, iterations);
  switch (parsed.status) {
    case ParseStatus::kNotCanonical:
      check(parsed.numbers.empty() || parsed.count == parsed.numbers.size());
      check(request->outcome() == RequestOutcome::kNotCanonical && request->body() == body);
      break;
    case ParseStatus::kStopped:
      check(false);  // only a stop poll stops a parse
      break;
    case ParseStatus::kTooMany:
      check(parsed.count > kMaxNumbers && parsed.numbers.empty());
      check(request->outcome() == RequestOutcome::kTooMany && request->count() == parsed.count);
      break;
    case ParseStatus::kOk: {
      check(parsed.count == parsed.numbers.size() && parsed.count <= kMaxNumbers);
      for (const char c : body) check(static_cast<unsigned char>(c) < 0x80);
      // The answer for these numbers, with its array under "numbers", parses back to them.
      const std::string text =
          gilfree::wire::write_numbers_response(parsed.numbers.size(), parsed.numbers);
      const std::string again = "{\"numbers\"" + text.substr(text.find(":["));
      const auto back = gilfree::wire::parse_numbers_request(again, kMaxNumbers);
      check(back.status == ParseStatus::kOk &&
            std::equal(back.numbers.begin(), back.numbers.end(), parsed.numbers.begin(),
                       parsed.numbers.end()));
      // The whole request answers what the kernel and the writer give, in either format.
      std::vector<std::int64_t> results(parsed.numbers.size());
      gilfree::kernels::process_numbers(parsed.numbers, results, iterations);
      check(request->outcome() == RequestOutcome::kOk);
      check(text_of(request->answer()) ==
            gilfree::wire::write_numbers_response(results.size(), results));
      const auto binary = answered(body, NumbersFormat::kInt64, iterations);
      check(binary->outcome() == RequestOutcome::kOk &&
            binary->answer().size() == results.size() * sizeof(std::int64_t) &&
            (results.empty() ||  // the wire's little-endian int64 are this host's (x86-64)
             std::memcmp(binary->answer().data(), results.data(), binary->answer().size()) == 0));
      break;
    }
  }
  return 0;
}
