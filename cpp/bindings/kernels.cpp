// Bindings of the kernels: Python lists and int64 buffers in and out, the GIL released to compute.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <string>
#include <vector>

#include "buffer.hpp"
#include "errors.hpp"
#include "kernels/sum_squares.hpp"
#include "ops.hpp"
#include "runtime/process_executor.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

std::vector<std::int64_t> int64s_from_list(nb::handle list) {
  const Py_ssize_t n = PyList_GET_SIZE(list.ptr());
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PyList_GET_ITEM(list.ptr(), i);
    const auto index = static_cast<std::size_t>(i);
    if (!PyLong_Check(item)) {
      throw InvalidInputError("numbers[" + std::to_string(i) + "] is not an integer (got " +
                                  Py_TYPE(item)->tp_name + ")",
                              index);
    }
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (overflow != 0) {
      throw InvalidInputError(
          "numbers[" + std::to_string(i) + "] is outside the signed 64-bit integer range", index);
    }
    if (value == -1 && PyErr_Occurred() != nullptr) throw nb::python_error();
    values[index] = value;
  }
  return values;
}

nb::list list_from_int64s(const std::vector<std::int64_t>& values) {
  nb::list out = nb::steal<nb::list>(PyList_New(static_cast<Py_ssize_t>(values.size())));
  if (!out.is_valid()) throw nb::python_error();
  for (std::size_t i = 0; i < values.size(); ++i) {
    PyObject* item = PyLong_FromLongLong(values[i]);
    if (item == nullptr) throw nb::python_error();
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), item);
  }
  return out;
}

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

nb::int_ sum_squares(std::int64_t a, std::int64_t b) {
  const std::string digits = kernels::to_decimal(kernels::sum_squares(a, b));
  return nb::steal<nb::int_>(PyLong_FromString(digits.c_str(), nullptr, 10));
}

}  // namespace

void bind_kernels(nb::module_& m) {
  m.def("process_numbers_list", &process_numbers_list, nb::arg("numbers"), nb::arg("iterations"),
        nb::sig("def process_numbers_list(numbers: list[int], iterations: int) -> list[int]"),
        "Runs process_numbers on a list of ints; returns a new list.");
  m.def("process_numbers_buffer", &process_numbers_buffer, nb::arg("numbers"), nb::arg("out"),
        nb::arg("iterations"),
        "Runs process_numbers from one int64 buffer into another of the same length.");
  m.def("sum_squares", &sum_squares, nb::arg("a"), nb::arg("b"),
        "The exact a*a + b*b of two int64.");
}

}  // namespace gilfree::bindings
