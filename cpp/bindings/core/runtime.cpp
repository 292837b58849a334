// Bindings of the runtime: the process executor's size, admission and lifetime, its kernels'
// statistics, and the machine.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"
#include "native_job.hpp"
#include "runtime/cpu_info.hpp"
#include "runtime/kernel_model.hpp"
#include "runtime/process_executor.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {

// Graces longer than this (11.6 days) are cut to it, so that any finite grace converts to int64
// nanoseconds without overflow.
constexpr double kLongestGraceS = 1.0e6;

namespace {

void put_outcomes(nb::dict& out, const runtime::Outcomes& outcomes) {
  out["succeeded"] = outcomes.succeeded;
  out["failed"] = outcomes.failed;
  out["cancelled"] = outcomes.cancelled;
  out["deadline_exceeded"] = outcomes.deadline_exceeded;
}

}  // namespace

void bind_runtime(nb::module_& m) {
  using runtime::ThreadPinning;
  nb::enum_<ThreadPinning>(m, "ThreadPinning", "Whether the workers are pinned to one CPU each.")
      .value("AUTO", ThreadPinning::kAuto,
             "When the pool has one worker for each CPU of the affinity mask (2 or more).")
      .value("ALWAYS", ThreadPinning::kAlways, "Every worker, in turn over the mask's CPUs.")
      .value("NEVER", ThreadPinning::kNever, "No worker.");
  m.def(
      "configure_executor",
      [](unsigned threads, double max_queued_cpu_s, ThreadPinning pinning) {
        nb::gil_scoped_release release;  // joining the old workers may wait for their chunks
        runtime::configure_process_executor(threads, max_queued_cpu_s, pinning);
      },
      nb::arg("threads"), nb::arg("max_queued_cpu_s"), nb::arg("pinning") = ThreadPinning::kAuto,
      "Restarts the executor with `threads` workers (0: usable CPUs) admitting at most "
      "`max_queued_cpu_s` estimated CPU seconds of unfinished work (inf: no limit), its workers "
      "pinned as `pinning` says (for the executors started after it too).");
  m.def(
      "shutdown_executor",
      [](double grace_s) {
        if (!std::isfinite(grace_s) || grace_s < 0) {
          throw InvalidInputError("grace must be a non-negative number of seconds");
        }
        nb::gil_scoped_release release;
        runtime::shutdown_process_executor(std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::duration<double>(std::min(grace_s, kLongestGraceS))));
      },
      nb::arg("grace_s") = 0.0,
      "Stops admission, lets admitted jobs finish for up to grace_s, cancels the rest and joins "
      "the workers. The next use starts a new executor.");
  m.def(
      "exit_runtime",
      [] {
        mark_exiting();
        nb::gil_scoped_release release;
        runtime::shutdown_process_executor();
      },
      "At interpreter exit: cancels every job, joins the workers, and keeps threads that waited "
      "for a job from taking the GIL back while the interpreter finalizes.");
  m.def("executor_threads", &runtime::process_executor_threads,
        "Worker count of the executor (or of the one the next call starts).");
  m.def(
      "executor_stats",
      [] {
        const auto s = runtime::process_executor()->stats();
        nb::dict out;
        out["threads"] = s.threads;
        out["pinned_threads"] = s.pinned_threads;
        out["busy_workers"] = s.busy_workers;
        out["active_jobs"] = s.active_jobs;
        out["queued_cpu_s"] = s.queued_cpu_s;
        out["max_queued_cpu_s"] = s.max_queued_cpu_s;
        out["submitted"] = s.submitted;
        out["inline_runs"] = s.inline_runs;
        out["rejected"] = s.rejected;
        put_outcomes(out, s);
        return out;
      },
      nb::sig("def executor_stats() -> dict[str, int | float]"),
      "Counters and gauges of the process executor.");
  m.def(
      "kernel_stats",
      [] {
        nb::dict out;
        for (const runtime::KernelModel* model : runtime::kernel_models()) {
          const runtime::KernelStats s = model->stats();
          nb::dict entry;
          entry["submitted"] = s.submitted;
          entry["inline_runs"] = s.inline_runs;
          entry["rejected"] = s.rejected;
          put_outcomes(entry, s);
          entry["declared_cpu_s"] = s.declared_cpu_s;
          entry["estimated_cpu_s"] = s.estimated_cpu_s;
          entry["measured_cpu_s"] = s.measured_cpu_s;
          entry["correction"] = s.correction;
          out[nb::str(s.name.c_str())] = entry;
        }
        return out;
      },
      nb::sig("def kernel_stats() -> dict[str, dict[str, int | float]]"),
      "Per kernel: its jobs by outcome, their declared, estimated and measured CPU seconds, and "
      "the correction admission applies to its declarations.");
  m.def("inline_max_s", &runtime::inline_max_s,
        "Jobs estimated at most this many CPU seconds run at once on the calling thread.");
  m.def("set_inline_max_s", &runtime::set_inline_max_s, nb::arg("seconds"),
        "Sets inline_max_s (0: every job goes to the workers).");
  m.def("usable_cpus", &runtime::usable_cpus,
        "CPUs this process may use: affinity mask capped by the cgroup v2 quota.");
  m.def("simd_features", &runtime::simd_features, "SIMD instruction sets this CPU offers.");
}

}  // namespace gilfree::bindings
