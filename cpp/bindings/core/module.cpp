// The gilfree._core extension module: error translation and the per-module bindings.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "build_info.hpp"
#include "errors.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
void bind_kernels(nb::module_& m);
void bind_runtime(nb::module_& m);
void bind_jobs(nb::module_& m);
void bind_wire(nb::module_& m);
void bind_arrow(nb::module_& m);
}  // namespace gilfree::bindings

NB_MODULE(_core, m) {
  m.doc() = "gilfree's native core (internal: use the gilfree package).";

  // The core's errors are raised as gilfree.errors classes; InvalidInput keeps its index.
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    auto raise = [](const char* name, const std::exception& e) {
      nb::object cls = nb::module_::import_("gilfree.errors").attr(name);
      PyErr_SetObject(cls.ptr(), cls(nb::str(e.what())).ptr());
    };
    try {
      std::rethrow_exception(error);
    } catch (const gilfree::InvalidInputError& e) {
      nb::object cls = nb::module_::import_("gilfree.errors").attr("InvalidInput");
      nb::object index = nb::none();
      if (e.index()) index = nb::int_(*e.index());
      PyErr_SetObject(cls.ptr(), cls(nb::str(e.what()), index).ptr());
    } catch (const gilfree::OverloadedError& e) {
      raise("Overloaded", e);
    } catch (const gilfree::CancelledError& e) {
      raise("Cancelled", e);
    } catch (const gilfree::DeadlineExceededError& e) {
      raise("DeadlineExceeded", e);
    } catch (const gilfree::NativeJobError& e) {
      raise("GilfreeError", e);
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
  gilfree::bindings::bind_jobs(m);
  gilfree::bindings::bind_wire(m);
  gilfree::bindings::bind_arrow(m);
}
