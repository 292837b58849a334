// RAII views of Python buffers: int64 arrays (format, layout, writability checked) and raw bytes.
#pragma once

#include <nanobind/nanobind.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "errors.hpp"

namespace gilfree::bindings {

// The name of an object's type, for messages (the same in abi3 builds, which cannot read
// tp_name).
inline std::string type_name_of(nanobind::handle object) {
  return nanobind::type_name(object.type()).c_str();
}

class Int64Buffer {
 public:
  Int64Buffer(nanobind::handle object, bool writable) {
    const int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object.ptr(), &view_, flags) != 0) {
      PyErr_Clear();
      throw InvalidInputError(std::string(writable ? "output" : "numbers") +
                              " must be a C-contiguous" + (writable ? " writable" : "") +
                              " buffer of int64 (got " + type_name_of(object) + ")");
    }
    if (view_.itemsize != 8 || !is_int64_format(view_.format) || view_.ndim > 1) {
      const std::string format = view_.format != nullptr ? view_.format : "B";
      const int ndim = view_.ndim;
      PyBuffer_Release(&view_);
      throw InvalidInputError("numbers must be a one-dimensional buffer of int64 (got format '" +
                              format + "', " + std::to_string(ndim) + " dimensions)");
    }
  }
  ~Int64Buffer() { PyBuffer_Release(&view_); }
  Int64Buffer(const Int64Buffer&) = delete;
  Int64Buffer& operator=(const Int64Buffer&) = delete;

  [[nodiscard]] std::span<std::int64_t> span() const noexcept {
    return {static_cast<std::int64_t*>(view_.buf), static_cast<std::size_t>(view_.len) / 8};
  }

 private:
  // Native-order signed 8-byte integers: 'q', and 'l' where long is 8 bytes.
  static bool is_int64_format(const char* format) {
    if (format == nullptr) return false;
    if (*format == '@' || *format == '=' || *format == '<') ++format;
    return std::strcmp(format, "q") == 0 || (sizeof(long) == 8 && std::strcmp(format, "l") == 0);
  }

  Py_buffer view_{};
};

// Any C-contiguous buffer, read as bytes (a request body).
class ByteBuffer {
 public:
  explicit ByteBuffer(nanobind::handle object) {
    if (PyObject_GetBuffer(object.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0) {
      PyErr_Clear();
      throw InvalidInputError("body must be a bytes-like object (got " + type_name_of(object) +
                              ")");
    }
  }
  ~ByteBuffer() { PyBuffer_Release(&view_); }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  [[nodiscard]] std::string_view view() const noexcept {
    return {static_cast<const char*>(view_.buf), static_cast<std::size_t>(view_.len)};
  }

 private:
  Py_buffer view_{};
};

}  // namespace gilfree::bindings
