// Conversions between Python objects and the core's values: lists of int, 128-bit results.
#pragma once

#include <nanobind/nanobind.h>

#include <cstdint>
#include <string>
#include <vector>

#include "buffer.hpp"
#include "errors.hpp"
#include "kernels/sum_squares.hpp"

namespace gilfree::bindings {

// A list's size and items: the unchecked macros where the full C API is there, their checked
// functions in the limited API (abi3 builds).
#if defined(Py_LIMITED_API)
inline Py_ssize_t list_size(PyObject* list) noexcept { return PyList_Size(list); }
inline PyObject* list_item(PyObject* list, Py_ssize_t i) noexcept {
  return PyList_GetItem(list, i);
}
inline void list_set_new(PyObject* list, Py_ssize_t i, PyObject* item) noexcept {
  PyList_SetItem(list, i, item);  // steals item; cannot fail on a fresh list in range
}
#else
inline Py_ssize_t list_size(PyObject* list) noexcept { return PyList_GET_SIZE(list); }
inline PyObject* list_item(PyObject* list, Py_ssize_t i) noexcept {
  return PyList_GET_ITEM(list, i);
}
inline void list_set_new(PyObject* list, Py_ssize_t i, PyObject* item) noexcept {
  PyList_SET_ITEM(list, i, item);
}
#endif

// A list of Python ints as int64; InvalidInputError names the first element that is not an int
// or does not fit.
inline std::vector<std::int64_t> int64s_from_list(nanobind::handle list) {
  const Py_ssize_t n = list_size(list.ptr());
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = list_item(list.ptr(), i);
    const auto index = static_cast<std::size_t>(i);
    if (!PyLong_Check(item)) {
      throw InvalidInputError(
          "numbers[" + std::to_string(i) + "] is not an integer (got " + type_name_of(item) + ")",
          index);
    }
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (overflow != 0) {
      throw InvalidInputError(
          "numbers[" + std::to_string(i) + "] is outside the signed 64-bit integer range", index);
    }
    if (value == -1 && PyErr_Occurred() != nullptr) throw nanobind::python_error();
    values[index] = value;
  }
  return values;
}

inline nanobind::list list_from_int64s(const std::vector<std::int64_t>& values) {
  auto out = nanobind::steal<nanobind::list>(PyList_New(static_cast<Py_ssize_t>(values.size())));
  if (!out.is_valid()) throw nanobind::python_error();
  for (std::size_t i = 0; i < values.size(); ++i) {
    PyObject* item = PyLong_FromLongLong(values[i]);
    if (item == nullptr) throw nanobind::python_error();
    list_set_new(out.ptr(), static_cast<Py_ssize_t>(i), item);
  }
  return out;
}

inline nanobind::int_ int_from_uint128(kernels::uint128 value) {
  const std::string digits = kernels::to_decimal(value);
  auto out = nanobind::steal<nanobind::int_>(PyLong_FromString(digits.c_str(), nullptr, 10));
  if (!out.is_valid()) throw nanobind::python_error();
  return out;
}

}  // namespace gilfree::bindings
