// The gilfree._core extension module: the native runtime (executor, jobs, kernels' C table) and
// the mapping of its errors onto gilfree.errors. Kernels live in modules of their own.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "build_info.hpp"
#include "native_job.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
void bind_runtime(nb::module_& m);
}  // namespace gilfree::bindings

NB_MODULE(_core, m) {
  m.doc() = "gilfree's native runtime (internal: use the gilfree package).";

  // Only the runtime's own errors: other modules' exceptions keep nanobind's mapping.
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    gilfree::bindings::raise_runtime_error(error);
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
      "Version, compiler and build type of the runtime.");

  gilfree::bindings::bind_runtime(m);
  gilfree::bindings::bind_jobs(m);
}
