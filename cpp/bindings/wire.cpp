// Bindings of the wire path: a request body gathered into native memory, and the whole request
// (take the numbers, process them, write the answer) run as one native job or inline.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "buffer.hpp"
#include "memory/allocator.hpp"
#include "memory/buffer_cache.hpp"
#include "native_job.hpp"
#include "numbers_request.hpp"
#include "runtime/completion_queue.hpp"
#include "runtime/process_executor.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

using ops::NumbersFormat;
using ops::NumbersRequest;
using ops::RequestOutcome;
using runtime::CompletionQueue;

// A request body read in pieces into one buffer of the process cache: sized once when its length
// is declared, grown by doubling otherwise. Handed to a request, it is consumed (no copy).
class RequestBody {
 public:
  explicit RequestBody(std::size_t expected_bytes) {
    if (expected_bytes > 0) block_ = take(expected_bytes);
  }

  void append(nb::handle chunk) {
    if (consumed_) throw InvalidInputError("this body was already handed to a request");
    const ByteBuffer bytes(chunk);
    const std::string_view piece = bytes.view();
    if (piece.size() > block_.capacity() - size_) {
      const std::size_t want = size_ + piece.size();
      memory::Block grown = take(want);  // at least twice `want`: amortised doubling
      if (size_ > 0) std::memcpy(grown.data(), block_.data(), size_);
      block_ = std::move(grown);
    }
    if (!piece.empty()) std::memcpy(block_.data() + size_, piece.data(), piece.size());
    size_ += piece.size();
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  // The buffer and the body's size, for a request; the body is empty from now on.
  std::pair<memory::Block, std::size_t> consume() {
    if (consumed_) throw InvalidInputError("this body was already handed to a request");
    consumed_ = true;
    if (block_.empty()) block_ = memory::process_buffer_cache().take(0);
    return {std::move(block_), std::exchange(size_, 0)};
  }

 private:
  // Room for the answer too (see ops::kBodyCapacityFactor): address space only until written.
  static memory::Block take(std::size_t bytes) {
    const std::size_t room = bytes > ~std::size_t{0} / ops::kBodyCapacityFactor
                                 ? bytes
                                 : bytes * ops::kBodyCapacityFactor;
    return memory::process_buffer_cache().take(room);
  }

  memory::Block block_;
  std::size_t size_ = 0;
  bool consumed_ = false;
};

NumbersFormat format_named(const std::string& name, const char* what) {
  if (name == "json") return NumbersFormat::kJson;
  if (name == "int64") return NumbersFormat::kInt64;
  throw InvalidInputError(std::string(what) + " must be 'json' or 'int64', got '" + name + "'");
}

const char* outcome_name(RequestOutcome outcome) {
  switch (outcome) {
    case RequestOutcome::kPending:
      return "pending";
    case RequestOutcome::kOk:
      return "ok";
    case RequestOutcome::kNotCanonical:
      return "not_canonical";
    case RequestOutcome::kTooMany:
      return "too_many";
    case RequestOutcome::kTooMuchWork:
      return "too_much_work";
  }
  return "unknown";
}

// A request over `body`: a RequestBody (consumed, no copy) or any bytes-like object (copied
// into a buffer of the cache).
std::shared_ptr<NumbersRequest> make_request(nb::handle body, const std::string& body_format,
                                             const std::string& answer_format,
                                             std::uint64_t iterations, std::size_t max_numbers,
                                             std::uint64_t max_work) {
  ops::NumbersRequestOptions options;
  options.body_format = format_named(body_format, "body_format");
  options.answer_format = format_named(answer_format, "answer_format");
  options.iterations = iterations;
  options.max_numbers = max_numbers;
  options.max_work = max_work;
  const auto check_size = [&options](std::size_t size) {
    if (options.body_format == NumbersFormat::kInt64 && size % 8 != 0) {
      throw InvalidInputError("an int64 body holds 8-byte values: " + std::to_string(size) +
                              " bytes is not a multiple of 8");
    }
  };
  if (nb::isinstance<RequestBody>(body)) {
    auto& gathered = nb::cast<RequestBody&>(body);
    check_size(gathered.size());
    auto [block, size] = gathered.consume();
    return std::make_shared<NumbersRequest>(std::move(block), size, options);
  }
  const ByteBuffer bytes(body);
  const std::size_t size = bytes.view().size();
  check_size(size);
  memory::Block block = memory::process_buffer_cache().take(size * ops::kBodyCapacityFactor);
  if (size > 0) std::memcpy(block.data(), bytes.view().data(), size);
  return std::make_shared<NumbersRequest>(std::move(block), size, options);
}

std::unique_ptr<NativeJob> submit_numbers_request(std::shared_ptr<CompletionQueue> queue,
                                                  std::shared_ptr<NumbersRequest> request,
                                                  std::optional<double> timeout_s) {
  auto handle = std::make_unique<NativeJob>();
  const auto deadline = deadline_after(timeout_s);
  handle->executor = runtime::process_executor();
  handle->job = ops::submit_numbers_request(*handle->executor, request, deadline, std::move(queue));
  handle->keep = request;
  handle->make_result = [request] { return nb::cast(request); };
  return handle;
}

void answer_numbers_now(const std::shared_ptr<NumbersRequest>& request) {
  ops::run_numbers_request_inline(*runtime::process_executor(), request);
}

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
  nb::class_<RequestBody>(m, "RequestBody",
                          "A request body gathered in native memory, for a NumbersRequest.")
      .def(nb::init<std::size_t>(), nb::arg("expected_bytes") = 0,
           "expected_bytes: the declared length, if known (the buffer is then sized once).")
      .def("append", &RequestBody::append, nb::arg("chunk"),
           nb::sig("def append(self, chunk: bytes) -> None"), "Appends a piece of the body.")
      .def("__len__", &RequestBody::size);

  nb::class_<NumbersRequest>(m, "NumbersRequest",
                             "A POST /process-numbers request and, once its work is done, its "
                             "outcome and answer.")
      .def(nb::new_(&make_request), nb::arg("body"), nb::arg("body_format"),
           nb::arg("answer_format"), nb::arg("iterations"), nb::arg("max_numbers"),
           nb::arg("max_work"),
           "A RequestBody is consumed (no copy); other bytes-like bodies are copied once.")
      .def_prop_ro(
          "cost_bound", [](const NumbersRequest& r) { return r.cost_bound(); },
          "Work units reserved when it is admitted (see numbers_request.hpp).")
      .def_prop_ro(
          "outcome", [](const NumbersRequest& r) { return outcome_name(r.outcome()); },
          "'ok', 'not_canonical' (for the slow path), 'too_many' (more than max_numbers), "
          "'too_much_work' (numbers x iterations over max_work), or 'pending'.")
      .def_prop_ro(
          "count", [](const NumbersRequest& r) { return r.count(); },
          "Numbers in the body (all of them for 'too_many').")
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

  m.def("submit_numbers_request", &submit_numbers_request, nb::arg("queue"), nb::arg("request"),
        nb::arg("timeout_s").none(),
        "Runs a request's work as one job; result() gives the request, answered.");
  m.def("answer_numbers_now", &answer_numbers_now, nb::arg("request"),
        "Runs a small request's work on the calling thread (no job), admitted as a job would be.");

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
