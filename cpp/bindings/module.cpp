// The gilfree._core extension module: error translation and the per-module bindings.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "build_info.hpp"
#include "errors.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
void bind_kernels(nb::module_& m);
void bind_runtime(nb::module_& m);
}  // namespace gilfree::bindings

NB_MODULE(_core, m) {
  m.doc() = "gilfree's native core (internal: use the gilfree package).";

  // Raised as gilfree.errors.InvalidInput, with the offending index where there is one.
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const gilfree::InvalidInputError& e) {
      nb::object cls = nb::module_::import_("gilfree.errors").attr("InvalidInput");
      nb::object index = nb::none();
      if (e.index()) index = nb::int_(*e.index());
      nb::object exc = cls(nb::str(e.what()), index);
      PyErr_SetObject(cls.ptr(), exc.ptr());
    }
  });

  m.def(
      "build_info",
      [] {
        const gilfree::BuildInfo info = gilfree::build_info();
        nb::dict out;
        out["version"] = info.version;
        out["compiler"] = info.compiler;
        out["build_type"] = info.build_type;
        return out;
      },
      nb::sig("def build_info() -> dict[str, str]"),
      "Version, compiler and build type of the core.");

  gilfree::bindings::bind_kernels(m);
  gilfree::bindings::bind_runtime(m);
}
