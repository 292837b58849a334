// Bindings of the kernels, synchronous: lists and int64 buffers in and out, the GIL released.
#include <nanobind/nanobind.h>

#include <cstdint>
#include <vector>

#include "buffer.hpp"
#include "convert.hpp"
#include "kernels/sum_squares.hpp"
#include "ops.hpp"
#include "runtime/process_executor.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

nb::list process_numbers_list(nb::list numbers, std::uint64_t iterations) {
  std::vector<std::int64_t> values = int64s_from_list(numbers);
  {
    nb::gil_scoped_release release;
    auto executor = runtime::process_executor();
    ops::process_numbers(*executor, values, values, iterations);
  }
  return list_from_int64s(values);
}

void process_numbers_buffer(nb::handle numbers, nb::handle out, std::uint64_t iterations) {
  const Int64Buffer in_view(numbers, /*writable=*/false);
  const Int64Buffer out_view(out, /*writable=*/true);
  if (in_view.span().size() != out_view.span().size()) {
    throw InvalidInputError("output length differs from input length");
  }
  nb::gil_scoped_release release;
  auto executor = runtime::process_executor();
  ops::process_numbers(*executor, in_view.span(), out_view.span(), iterations);
}

}  // namespace

void bind_kernels(nb::module_& m) {
  m.def("process_numbers_list", &process_numbers_list, nb::arg("numbers"), nb::arg("iterations"),
        nb::sig("def process_numbers_list(numbers: list[int], iterations: int) -> list[int]"),
        "Runs process_numbers on a list of ints; returns a new list.");
  m.def("process_numbers_buffer", &process_numbers_buffer, nb::arg("numbers"), nb::arg("out"),
        nb::arg("iterations"),
        "Runs process_numbers from one int64 buffer into another of the same length.");
  m.def(
      "sum_squares",
      [](std::int64_t a, std::int64_t b) { return int_from_uint128(kernels::sum_squares(a, b)); },
      nb::arg("a"), nb::arg("b"), "The exact a*a + b*b of two int64.");
}

}  // namespace gilfree::bindings
