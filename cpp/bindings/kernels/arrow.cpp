// Arrow arrays in without a copy and without pyarrow: the Arrow PyCapsule interface
// (__arrow_c_array__) and the Arrow C data interface structs, which are a stable ABI.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "errors.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

// The Arrow C data interface (arrow.apache.org/docs/format/CDataInterface.html).
struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  std::int64_t flags;
  std::int64_t n_children;
  ArrowSchema** children;
  ArrowSchema* dictionary;
  void (*release)(ArrowSchema*);
  void* private_data;
};

struct ArrowArray {
  std::int64_t length;
  std::int64_t null_count;
  std::int64_t offset;
  std::int64_t n_buffers;
  std::int64_t n_children;
  const void** buffers;
  ArrowArray** children;
  ArrowArray* dictionary;
  void (*release)(ArrowArray*);
  void* private_data;
};

template <typename T>
T* capsule_pointer(nb::handle capsule, const char* name) {
  void* pointer = PyCapsule_GetPointer(capsule.ptr(), name);
  if (pointer == nullptr) {
    PyErr_Clear();
    throw InvalidInputError(std::string("__arrow_c_array__ did not return an '") + name +
                            "' capsule");
  }
  return static_cast<T*>(pointer);
}

// The int64 values of an Arrow array, as a memoryview that keeps the array alive (its capsule
// releases it when the last view goes): no copy.
nb::object arrow_int64_values(nb::handle object) {
  nb::object pair = object.attr("__arrow_c_array__")();
  if (!nb::isinstance<nb::tuple>(pair) || nb::len(pair) != 2) {
    throw InvalidInputError("__arrow_c_array__ must return a (schema, array) pair of capsules");
  }
  nb::object schema_capsule = pair[0];
  nb::object array_capsule = pair[1];
  const auto* schema = capsule_pointer<ArrowSchema>(schema_capsule, "arrow_schema");
  const auto* array = capsule_pointer<ArrowArray>(array_capsule, "arrow_array");
  if (schema->format == nullptr || std::strcmp(schema->format, "l") != 0) {
    throw InvalidInputError(std::string("numbers must be an Arrow array of int64 (format 'l'), ") +
                            "got format '" + (schema->format ? schema->format : "") + "'");
  }
  if (array->release == nullptr || array->n_buffers != 2 || array->buffers == nullptr ||
      array->length < 0 || array->offset < 0) {
    throw InvalidInputError("the Arrow array is released or malformed");
  }
  if (array->null_count != 0 && !(array->null_count == -1 && array->buffers[0] == nullptr)) {
    throw InvalidInputError("numbers must not hold nulls (the Arrow array has a validity bitmap)");
  }
  const auto* data = static_cast<const std::int64_t*>(array->buffers[1]);
  if (data == nullptr && array->length > 0) {
    throw InvalidInputError("the Arrow array has no data buffer");
  }
  static const std::int64_t kEmpty = 0;
  const std::int64_t* first = data != nullptr ? data + array->offset : &kEmpty;
  const std::size_t shape[1] = {static_cast<std::size_t>(array->length)};
  return nb::cast(
      nb::ndarray<nb::memview, const std::int64_t, nb::ndim<1>>(first, 1, shape, array_capsule));
}

}  // namespace

void bind_arrow(nb::module_& m) {
  m.def("arrow_int64_values", &arrow_int64_values, nb::arg("array"),
        nb::sig("def arrow_int64_values(array: object) -> memoryview"),
        "The values of an object exposing __arrow_c_array__ (int64, no nulls) as a memoryview, "
        "without a copy.");
}

}  // namespace gilfree::bindings
