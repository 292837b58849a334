// Bindings of the runtime: the process executor's size and lifetime, and what the machine offers.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "runtime/cpu_info.hpp"
#include "runtime/process_executor.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {

void bind_runtime(nb::module_& m) {
  m.def(
      "configure_executor",
      [](unsigned threads) {
        nb::gil_scoped_release release;  // joining the old workers may wait for their chunks
        runtime::configure_process_executor(threads);
      },
      nb::arg("threads"), "Restarts the executor with `threads` workers (0: usable CPUs).");
  m.def(
      "shutdown_executor",
      [] {
        nb::gil_scoped_release release;
        runtime::shutdown_process_executor();
      },
      "Stops the executor and joins its workers.");
  m.def("executor_threads", &runtime::process_executor_threads,
        "Worker count of the executor (or of the one the next call starts).");
  m.def("usable_cpus", &runtime::usable_cpus,
        "CPUs this process may use: affinity mask capped by the cgroup v2 quota.");
  m.def("simd_features", &runtime::simd_features, "SIMD instruction sets this CPU offers.");
}

}  // namespace gilfree::bindings
