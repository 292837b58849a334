// Bindings of the wire codecs as native jobs: parse a JSON request body, compute on the parsed
// numbers in place, write the JSON response into a buffer handed to Python without a copy.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "buffer.hpp"
#include "native_job.hpp"
#include "ops.hpp"
#include "runtime/completion_queue.hpp"
#include "runtime/process_executor.hpp"
#include "wire/numbers_json.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

using runtime::CompletionQueue;
using Parsed = std::shared_ptr<wire::ParsedNumbers>;

const char* parse_status_name(wire::ParseStatus status) {
  switch (status) {
    case wire::ParseStatus::kOk:
      return "ok";
    case wire::ParseStatus::kNotCanonical:
      return "not_canonical";
    case wire::ParseStatus::kTooMany:
      return "too_many";
  }
  return "unknown";
}

// Bytes owned by a capsule, seen from Python as a read-only memoryview: no copy.
nb::object memoryview_of(std::unique_ptr<std::string> text) {
  std::string* raw = text.release();
  nb::capsule owner(raw, [](void* p) noexcept { delete static_cast<std::string*>(p); });
  const std::size_t shape[1] = {raw->size()};
  return nb::cast(nb::ndarray<nb::memview, const std::uint8_t, nb::ndim<1>>(
      reinterpret_cast<const std::uint8_t*>(raw->data()), 1, shape, owner));
}

std::unique_ptr<NativeJob> submit_parse_numbers_json(std::shared_ptr<CompletionQueue> queue,
                                                     nb::handle body, std::size_t max_numbers,
                                                     std::optional<double> timeout_s) {
  struct Storage {
    explicit Storage(nb::handle object) : bytes(object) {}
    ByteBuffer bytes;
    Parsed parsed = std::make_shared<wire::ParsedNumbers>();
  };
  auto storage = std::make_shared<Storage>(body);
  auto handle = std::make_unique<NativeJob>();
  const auto deadline = deadline_after(timeout_s);
  handle->executor = runtime::process_executor();
  handle->job = ops::submit_task(
      *handle->executor,
      [storage, max_numbers] {
        *storage->parsed = wire::parse_numbers_request(storage->bytes.view(), max_numbers);
      },
      storage->bytes.view().size() / 8, deadline, std::move(queue));
  handle->keep = storage;
  handle->make_result = [storage] { return nb::cast(storage->parsed); };
  return handle;
}

std::unique_ptr<NativeJob> submit_process_parsed(std::shared_ptr<CompletionQueue> queue,
                                                 Parsed parsed, std::uint64_t iterations,
                                                 std::optional<double> timeout_s) {
  if (parsed->status != wire::ParseStatus::kOk) {
    throw InvalidInputError("only numbers parsed as canonical can be processed");
  }
  auto handle = std::make_unique<NativeJob>();
  const auto deadline = deadline_after(timeout_s);
  handle->executor = runtime::process_executor();
  handle->job = ops::submit_process_numbers(*handle->executor, parsed->numbers, parsed->numbers,
                                            iterations, deadline, std::move(queue));
  handle->keep = parsed;
  handle->make_result = [] { return nb::none(); };
  return handle;
}

// `values` is a ParsedNumbers or an int64 buffer.
std::unique_ptr<NativeJob> submit_write_numbers_json(std::shared_ptr<CompletionQueue> queue,
                                                     nb::handle values,
                                                     std::optional<double> timeout_s) {
  struct Storage {
    Parsed parsed;
    std::unique_ptr<Int64Buffer> buffer;
    std::unique_ptr<std::string> text;
    [[nodiscard]] std::span<const std::int64_t> span() const {
      if (parsed) return parsed->numbers;
      return buffer->span();
    }
  };
  auto storage = std::make_shared<Storage>();
  if (nb::isinstance<wire::ParsedNumbers>(values)) {
    storage->parsed = nb::cast<Parsed>(values);
    if (storage->parsed->status != wire::ParseStatus::kOk) {
      throw InvalidInputError("only numbers parsed as canonical can be written");
    }
  } else {
    storage->buffer = std::make_unique<Int64Buffer>(values, /*writable=*/false);
  }
  auto handle = std::make_unique<NativeJob>();
  const auto deadline = deadline_after(timeout_s);
  handle->executor = runtime::process_executor();
  handle->job = ops::submit_task(
      *handle->executor,
      [storage] {
        const auto span = storage->span();
        storage->text =
            std::make_unique<std::string>(wire::write_numbers_response(span.size(), span));
      },
      storage->span().size(), deadline, std::move(queue));
  handle->keep = storage;
  handle->make_result = [storage] { return memoryview_of(std::move(storage->text)); };
  return handle;
}

Parsed parse_numbers_json_now(nb::handle body, std::size_t max_numbers) {
  const ByteBuffer bytes(body);
  return std::make_shared<wire::ParsedNumbers>(
      wire::parse_numbers_request(bytes.view(), max_numbers));
}

nb::object write_numbers_json_now(nb::handle values) {
  if (nb::isinstance<wire::ParsedNumbers>(values)) {
    const auto& parsed = nb::cast<const wire::ParsedNumbers&>(values);
    return memoryview_of(std::make_unique<std::string>(
        wire::write_numbers_response(parsed.numbers.size(), parsed.numbers)));
  }
  const Int64Buffer buffer(values, /*writable=*/false);
  return memoryview_of(std::make_unique<std::string>(
      wire::write_numbers_response(buffer.span().size(), buffer.span())));
}

}  // namespace

void bind_wire(nb::module_& m) {
  nb::class_<wire::ParsedNumbers>(
      m, "ParsedNumbers", "The numbers of a JSON request body, as the strict parser saw it.")
      .def_prop_ro(
          "status", [](const wire::ParsedNumbers& p) { return parse_status_name(p.status); },
          "'ok', 'not_canonical' (for the slow path) or 'too_many' (more than max_numbers).")
      .def_prop_ro(
          "count", [](const wire::ParsedNumbers& p) { return p.count; },
          "How many numbers the body holds (all of them, even past max_numbers).")
      .def(
          "values",
          [](nb::handle self) {
            auto& parsed = nb::cast<wire::ParsedNumbers&>(self);
            const std::size_t shape[1] = {parsed.numbers.size()};
            // A view of the numbers themselves: it keeps this object alive, no copy.
            return nb::ndarray<nb::memview, const std::int64_t, nb::ndim<1>>(parsed.numbers.data(),
                                                                             1, shape, self);
          },
          nb::sig("def values(self) -> memoryview"),
          "The numbers (after processing, the results) as a memoryview of int64, without a copy.");

  m.def("submit_parse_numbers_json", &submit_parse_numbers_json, nb::arg("queue"), nb::arg("body"),
        nb::arg("max_numbers"), nb::arg("timeout_s").none(),
        nb::sig("def submit_parse_numbers_json(queue: CompletionQueue, body: bytes, "
                "max_numbers: int, timeout_s: float | None) -> NativeJob"),
        "Parses a request body; result() gives a ParsedNumbers.");
  m.def("parse_numbers_json_now", &parse_numbers_json_now, nb::arg("body"), nb::arg("max_numbers"),
        nb::sig("def parse_numbers_json_now(body: bytes, max_numbers: int) -> ParsedNumbers"),
        "Parses a small request body on the calling thread (a few microseconds; no job).");
  m.def("write_numbers_json_now", &write_numbers_json_now, nb::arg("values"),
        nb::sig("def write_numbers_json_now(values: object) -> memoryview"),
        "Writes the JSON response for a few numbers on the calling thread (no job).");
  m.def("submit_process_parsed", &submit_process_parsed, nb::arg("queue"), nb::arg("parsed"),
        nb::arg("iterations"), nb::arg("timeout_s").none(),
        "Runs process_numbers on parsed numbers, in place; result() gives None.");
  m.def("submit_write_numbers_json", &submit_write_numbers_json, nb::arg("queue"),
        nb::arg("values"), nb::arg("timeout_s").none(),
        nb::sig("def submit_write_numbers_json(queue: CompletionQueue, values: object, "
                "timeout_s: float | None) -> NativeJob"),
        "Writes the JSON response for parsed numbers or an int64 buffer; result() gives a "
        "memoryview of its bytes.");
}

}  // namespace gilfree::bindings
