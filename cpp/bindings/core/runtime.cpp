// Bindings of the runtime: the process executor's size, admission and lifetime, and the machine.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"
#include "kernels/process_numbers.hpp"
#include "runtime/cpu_info.hpp"
#include "runtime/process_executor.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

std::vector<std::string> level_names(const std::vector<kernels::SimdLevel>& levels) {
  std::vector<std::string> names;
  for (const auto level : levels) names.emplace_back(kernels::simd_level_name(level));
  return names;
}

}  // namespace

void bind_runtime(nb::module_& m) {
  m.def(
      "configure_executor",
      [](unsigned threads, std::uint64_t max_queued_work) {
        nb::gil_scoped_release release;  // joining the old workers may wait for their chunks
        runtime::configure_process_executor(threads, max_queued_work);
      },
      nb::arg("threads"), nb::arg("max_queued_work"),
      "Restarts the executor with `threads` workers (0: usable CPUs) admitting at most "
      "`max_queued_work` units of unfinished work.");
  m.def(
      "shutdown_executor",
      [](double grace_s) {
        if (!std::isfinite(grace_s) || grace_s < 0) {
          throw InvalidInputError("grace must be a non-negative number of seconds");
        }
        nb::gil_scoped_release release;
        runtime::shutdown_process_executor(std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(std::min(grace_s, 1.0e6))));
      },
      nb::arg("grace_s") = 0.0,
      "Stops admission, lets admitted jobs finish for up to grace_s, cancels the rest and joins "
      "the workers. The next use starts a new executor.");
  m.def("executor_threads", &runtime::process_executor_threads,
        "Worker count of the executor (or of the one the next call starts).");
  m.def(
      "executor_stats",
      [] {
        const auto s = runtime::process_executor()->stats();
        nb::dict out;
        out["threads"] = s.threads;
        out["busy_workers"] = s.busy_workers;
        out["active_jobs"] = s.active_jobs;
        out["queued_work"] = s.queued_work;
        out["max_queued_work"] = s.max_queued_work;
        out["submitted"] = s.submitted;
        out["rejected"] = s.rejected;
        out["succeeded"] = s.succeeded;
        out["failed"] = s.failed;
        out["cancelled"] = s.cancelled;
        out["deadline_exceeded"] = s.deadline_exceeded;
        return out;
      },
      nb::sig("def executor_stats() -> dict[str, int]"),
      "Counters and gauges of the process executor.");
  m.def("usable_cpus", &runtime::usable_cpus,
        "CPUs this process may use: affinity mask capped by the cgroup v2 quota.");
  m.def("simd_features", &runtime::simd_features, "SIMD instruction sets this CPU offers.");

  m.def(
      "simd_levels", [] { return level_names(kernels::supported_simd_levels()); },
      "Kernel builds this CPU can run, narrowest first.");
  m.def(
      "built_simd_levels", [] { return level_names(kernels::built_simd_levels()); },
      "Kernel builds in this binary, narrowest first.");
  m.def(
      "simd_level",
      [] { return std::string(kernels::simd_level_name(kernels::active_simd_level())); },
      "The kernel build in use.");
  m.def(
      "set_simd_level",
      [](const std::string& name) {
        const auto level = kernels::parse_simd_level(name);
        if (!level) throw InvalidInputError("unknown SIMD level '" + name + "'");
        if (!kernels::simd_level_supported(*level)) {
          throw InvalidInputError("SIMD level '" + name + "' is not supported by this CPU");
        }
        kernels::set_simd_level(*level);
      },
      nb::arg("name"), "Chooses the kernel build (one of simd_levels()).");
}

}  // namespace gilfree::bindings
