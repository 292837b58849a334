// Bindings of the wire path: a request body gathered into native memory, and the whole request
// (take the numbers, process them, write the answer) as a kernel whose job runs its stages.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <gilfree/python.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "buffer.hpp"
#include "memory/allocator.hpp"
#include "memory/buffer_cache.hpp"
#include "numbers_request.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

using ops::NumbersFormat;
using ops::NumbersRequest;
using ops::RequestOutcome;

using ops::RequestBody;

// The bytes of any bytes-like object (a Python buffer), as the core takes them.
std::span<const std::byte> bytes_of(const ByteBuffer& buffer) {
  return std::as_bytes(std::span<const char>(buffer.view().data(), buffer.view().size()));
}

// A request over `body`: a RequestBody (consumed, no copy) or any bytes-like object (copied
// into a buffer of the cache).
std::shared_ptr<NumbersRequest> make_request(nb::handle body, NumbersFormat body_format,
                                             NumbersFormat answer_format, std::uint64_t iterations,
                                             std::size_t max_numbers, std::uint64_t max_work) {
  ops::NumbersRequestOptions options;
  options.body_format = body_format;
  options.answer_format = answer_format;
  options.iterations = iterations;
  options.max_numbers = max_numbers;
  options.max_work = max_work;
  if (nb::isinstance<RequestBody>(body)) {
    return std::make_shared<NumbersRequest>(nb::cast<RequestBody&>(body), options);
  }
  const ByteBuffer bytes(body);
  RequestBody copy(bytes.view().size());
  copy.append(bytes_of(bytes));
  return std::make_shared<NumbersRequest>(copy, options);
}

// The request's job; its result is the request itself, answered.
class AnswerNumbers : public ops::NumbersRequestJob {
 public:
  using ops::NumbersRequestJob::NumbersRequestJob;
  nb::object result() const { return nb::cast(request()); }
};

nb::dict buffer_cache_stats() {
  const memory::BufferCacheStats stats = memory::process_buffer_cache().stats();
  nb::dict out;
  out["max_retained_bytes"] = stats.max_retained_bytes;
  out["retained_bytes"] = stats.retained_bytes;
  out["retained_blocks"] = stats.retained_blocks;
  out["reused"] = stats.reused;
  out["allocated"] = stats.allocated;
  return out;
}

}  // namespace

void bind_wire(nb::module_& m) {
  nb::enum_<NumbersFormat>(m, "NumbersFormat", "How a body or an answer holds its numbers.")
      .value("JSON", NumbersFormat::kJson,
             "JSON: {\"numbers\": [...]} in, {\"original_count\": N, \"processed_result\": "
             "[...]} out.")
      .value("INT64", NumbersFormat::kInt64, "The numbers themselves, little-endian int64.");
  nb::enum_<RequestOutcome>(m, "RequestOutcome", "How a NumbersRequest ended.")
      .value("PENDING", RequestOutcome::kPending, "Not run yet.")
      .value("OK", RequestOutcome::kOk, "Answered: answer() holds it.")
      .value("NOT_CANONICAL", RequestOutcome::kNotCanonical,
             "The body is not in canonical form: body() holds it, for the slow path.")
      .value("TOO_MANY", RequestOutcome::kTooMany,
             "More than max_numbers numbers (count says how many).")
      .value("TOO_MUCH_WORK", RequestOutcome::kTooMuchWork, "Numbers x iterations over max_work.");
  nb::class_<RequestBody>(m, "RequestBody",
                          "A request body gathered in native memory, for a NumbersRequest.")
      .def(
          "__init__",
          [](RequestBody* self, std::size_t expected_bytes) {
            new (self) RequestBody(expected_bytes);
          },
          nb::arg("expected_bytes") = 0,
          "expected_bytes: the declared length, if known (the buffer is then sized once).")
      .def(
          "append",
          [](RequestBody& self, nb::handle chunk) {
            const ByteBuffer bytes(chunk);
            self.append(bytes_of(bytes));
          },
          nb::arg("chunk"), nb::sig("def append(self, chunk: bytes) -> None"),
          "Appends a piece of the body.")
      .def("__len__", &RequestBody::size);

  nb::class_<NumbersRequest>(m, "NumbersRequest",
                             "A POST /process-numbers request and, once its work is done, its "
                             "outcome and answer.")
      .def(nb::new_(&make_request), nb::arg("body"), nb::arg("body_format"),
           nb::arg("answer_format"), nb::arg("iterations"), nb::arg("max_numbers"),
           nb::arg("max_work"),
           "A RequestBody is consumed (no copy); other bytes-like bodies are copied once.")
      .def_prop_ro(
          "cost_bound_s", [](const NumbersRequest& r) { return r.cost_bound_s(); },
          "Declared CPU seconds of its work before the body is parsed (see numbers_request.hpp).")
      .def_prop_ro(
          "outcome", [](const NumbersRequest& r) { return r.outcome(); }, "How it ended.")
      .def_prop_ro(
          "count", [](const NumbersRequest& r) { return r.count(); },
          "Numbers in the body (all of them for TOO_MANY).")
      .def(
          "answer",
          [](nb::handle self) {
            const auto& request = nb::cast<const NumbersRequest&>(self);
            const auto bytes = request.answer();
            const std::size_t shape[1] = {bytes.size()};
            // A view of the answer's own memory: it keeps this request alive, no copy.
            return nb::ndarray<nb::memview, const std::uint8_t, nb::ndim<1>>(
                reinterpret_cast<const std::uint8_t*>(bytes.data()), 1, shape, self);
          },
          nb::sig("def answer(self) -> memoryview"),
          "The answer's bytes ('ok' only; empty otherwise): JSON text, or little-endian int64.")
      .def(
          "body",
          [](const NumbersRequest& r) {
            const std::string_view body = r.body();
            return nb::bytes(body.data(), body.size());
          },
          "A copy of the request body, for the slow path (empty once answered 'ok').");

  python::def_kernel(
      m, "answer_numbers", ops::kNumbersRequest,
      [](std::shared_ptr<NumbersRequest> request) { return AnswerNumbers(std::move(request)); },
      nb::arg("request"), "Runs a request's work as one job; the request back, answered.");

  m.def(
      "set_buffer_cache_limit",
      [](std::size_t bytes) { memory::process_buffer_cache().set_max_retained_bytes(bytes); },
      nb::arg("max_retained_bytes"),
      "Bytes of large request and answer buffers kept for reuse (0: none).");
  m.def("set_allocator_thresholds", &memory::set_allocator_thresholds, nb::arg("mmap_threshold"),
        nb::arg("trim_threshold"),
        "Pins glibc malloc's mmap and trim thresholds (see memory/allocator.hpp); False where the "
        "allocator is not glibc's.");
  m.def("buffer_cache_stats", &buffer_cache_stats,
        nb::sig("def buffer_cache_stats() -> dict[str, int]"),
        "The buffer cache's limit, what it retains, and how many takes it served by reuse or by "
        "a new allocation.");
}

}  // namespace gilfree::bindings
