// Bindings of native jobs: a CompletionQueue per event loop, the NativeJob handle of any kernel's
// job, and the Python half of the C table kernel modules submit their jobs through.
#include <nanobind/nanobind.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#if defined(Py_LIMITED_API)
#include <dlfcn.h>
#endif

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "errors.hpp"
#include "native_job.hpp"
#include "runtime/completion_queue.hpp"
#include "runtime/kernel_abi.hpp"
#include "runtime/process_executor.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

using runtime::Clock;
using runtime::CompletionQueue;
using runtime::JobStatus;

const char* status_name(JobStatus status) {
  switch (status) {
    case JobStatus::kQueued:
      return "queued";
    case JobStatus::kRunning:
      return "running";
    case JobStatus::kSucceeded:
      return "succeeded";
    case JobStatus::kFailed:
      return "failed";
    case JobStatus::kCancelled:
      return "cancelled";
    case JobStatus::kDeadlineExceeded:
      return "deadline_exceeded";
  }
  return "unknown";
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void raise(const char* name, const char* message, std::optional<std::size_t> index = {}) {
  nb::object cls = nb::module_::import_("gilfree.errors").attr(name);
  nb::object value = index ? cls(nb::str(message), nb::int_(*index)) : cls(nb::str(message));
  PyErr_SetObject(cls.ptr(), value.ptr());
}

// Whether the job should run at once on the calling thread: its estimate is below the
// process's inline threshold.
bool runs_inline(const runtime::DescribedJob& described) {
  const auto& d = described.description();
  const double limit = runtime::inline_max_s();
  return limit > 0 && d.kernel->estimate_s(d.cost_s) <= limit;
}

// gf_api.submit: the job on the pool reporting to `queue`, or run at once; a NativeJob.
PyObject* submit(const gf_job_desc* desc, PyObject* queue, double timeout_s) noexcept {
  try {
    auto described = runtime::take_job_desc(*desc);
    auto executor = runtime::process_executor();
    const bool now = runs_inline(*described);
    std::shared_ptr<CompletionQueue> sink;
    if (!now) {
      if (!nb::isinstance<CompletionQueue>(nb::handle(queue))) {
        PyErr_SetString(PyExc_TypeError, "a job's queue must be a gilfree._core.CompletionQueue");
        throw nb::python_error();
      }
      sink = nb::inst_ptr<CompletionQueue>(nb::handle(queue))->shared_from_this();
    }
    described->start(*executor, now, deadline_after(timeout_s), std::move(sink));
    auto handle = std::make_unique<NativeJob>(std::move(described), std::move(executor));
    return nb::cast(std::move(handle)).release().ptr();
  } catch (...) {
    set_python_error(std::current_exception());
    return nullptr;
  }
}

// gf_api.call: the job run to its end (on the pool with the GIL released, or at once), and its
// result.
PyObject* call(const gf_job_desc* desc) noexcept {
  try {
    auto described = runtime::take_job_desc(*desc);
    auto executor = runtime::process_executor();
    const bool now = runs_inline(*described);
    described->start(*executor, now, std::nullopt, nullptr);
    NativeJob handle(std::move(described), std::move(executor));
    if (!now) wait_without_gil(*handle.job());
    return handle.result().release().ptr();
  } catch (...) {
    set_python_error(std::current_exception());
    return nullptr;
  }
}

std::atomic<bool>& exiting() {
  static std::atomic<bool> flag{false};
  return flag;
}
// The thread that runs the interpreter's exit (it finalizes it too): never parked.
std::thread::id& exit_thread() {
  static std::thread::id id;
  return id;
}

#if defined(Py_LIMITED_API) && Py_LIMITED_API < 0x030D0000
// An abi3 build for 3.12: the limited API has no finalizing check before 3.13 (Py_IsFinalizing
// joined the stable ABI there), so it is looked up in the running interpreter, which exports
// Py_IsFinalizing from 3.13 and _Py_IsFinalizing before.
using IsFinalizing = int (*)();
IsFinalizing find_is_finalizing() noexcept {
  for (const char* name : {"Py_IsFinalizing", "_Py_IsFinalizing"}) {
    if (void* found = dlsym(RTLD_DEFAULT, name)) return reinterpret_cast<IsFinalizing>(found);
  }
  return nullptr;
}
#endif

bool interpreter_finalizing() noexcept {
#if defined(Py_LIMITED_API) && Py_LIMITED_API < 0x030D0000
  static const IsFinalizing is_finalizing = find_is_finalizing();
  return is_finalizing != nullptr && is_finalizing() != 0;
#elif PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing() != 0;
#else
  return _Py_IsFinalizing() != 0;
#endif
}

}  // namespace

void mark_exiting() noexcept {
  exit_thread() = std::this_thread::get_id();  // with the GIL: read after exiting() is seen
  exiting().store(true);
}

void wait_without_gil(const runtime::Job& job) {
  PyThreadState* state = PyEval_SaveThread();
  job.wait();
  if ((exiting().load() || interpreter_finalizing()) &&
      exit_thread() != std::this_thread::get_id() && exit_thread() != std::thread::id()) {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
  }
  PyEval_RestoreThread(state);
}

void raise_runtime_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const KernelError& e) {
    if (e.kind() == GF_ERROR_INVALID_INPUT) {
      raise("InvalidInput", e.what(), e.index());
    } else if (e.kind() == GF_ERROR_NO_MEMORY) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } else {
      raise("KernelError", e.what());
    }
  } catch (const InvalidInputError& e) {
    raise("InvalidInput", e.what(), e.index());
  } catch (const OverloadedError& e) {
    raise("Overloaded", e.what());
  } catch (const CancelledError& e) {
    raise("Cancelled", e.what());
  } catch (const DeadlineExceededError& e) {
    raise("DeadlineExceeded", e.what());
  }
}

void set_python_error(const std::exception_ptr& error) noexcept {
  try {
    try {
      raise_runtime_error(error);
    } catch (nb::python_error& e) {
      e.restore();
    } catch (const std::bad_alloc&) {
      PyErr_NoMemory();
    } catch (const std::exception& e) {
      raise("KernelError", (std::string("native job failed: ") + e.what()).c_str());
    } catch (...) {
      raise("KernelError", "native job failed with an unknown exception");
    }
  } catch (nb::python_error& e) {
    e.restore();  // importing gilfree.errors or building the exception failed: that is the error
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "gilfree could not report a native error");
  }
}

std::optional<Clock::time_point> deadline_after(double timeout_s) {
  if (std::isnan(timeout_s)) throw InvalidInputError("timeout must be a number of seconds");
  if (timeout_s <= 0) return std::nullopt;
  const double capped = timeout_s < 3.0e9 ? timeout_s : 3.0e9;
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(capped));
}

NativeJob::NativeJob(std::unique_ptr<runtime::DescribedJob> described,
                     std::shared_ptr<runtime::Executor> executor) noexcept
    : executor_(std::move(executor)), job_(described->job()), described_(std::move(described)) {}

NativeJob::~NativeJob() {
  if (job_ && !job_->finished()) {
    job_->cancel();
    wait_without_gil(*job_);
  }
  described_.reset();  // the state goes with the GIL held
}

std::string NativeJob::status() const {
  return job_->finished() ? status_name(job_->status()) : "pending";
}

double NativeJob::queue_wait_s() const {
  require_finished();
  return seconds(job_->started_at() - job_->submitted_at());
}

double NativeJob::run_s() const {
  require_finished();
  return seconds(job_->finished_at() - job_->started_at());
}

double NativeJob::cpu_s() const {
  require_finished();
  return job_->cpu_s();
}

void NativeJob::require_finished() const {
  if (!job_->finished()) throw std::logic_error("the job has not finished");
}

nb::object NativeJob::result() {
  require_finished();
  if (has_result_) return result_;
  job_->rethrow_if_unsuccessful();
  const auto build = described_->description().build_result;
  nb::object value = nb::none();
  if (build != nullptr) {
    PyObject* built = build(described_->description().state);
    if (built == nullptr) {
      if (PyErr_Occurred() == nullptr) {
        raise("KernelError",
              ("kernel '" + job_->kernel().name() + "' built no result and said nothing of why")
                  .c_str());
      }
      throw nb::python_error();
    }
    value = nb::steal(built);
  }
  result_ = value;
  has_result_ = true;
  described_.reset();  // the state is not needed any more: its memory goes now
  return value;
}

void bind_jobs(nb::module_& m) {
  nb::class_<CompletionQueue>(m, "CompletionQueue",
                              "Finished native jobs for one event loop, signalled on a descriptor.")
      .def(nb::new_([] { return std::make_shared<CompletionQueue>(); }))
      .def("fileno", &CompletionQueue::fd, "Readable while finished jobs wait to be drained.")
      .def(
          "drain", [](CompletionQueue& q) { return q.drain(); },
          "Clears readiness and returns the ids of the jobs finished since the last drain.");

  nb::class_<NativeJob>(m, "NativeJob", "A submitted job of any kernel, owning its state.")
      .def_prop_ro("id", &NativeJob::id)
      .def_prop_ro("done", &NativeJob::done)
      .def_prop_ro("status", &NativeJob::status)
      .def_prop_ro("kernel", &NativeJob::kernel, "The kernel its job is counted under.")
      .def_prop_ro("ran_inline", &NativeJob::ran_inline,
                   "Whether it ran at once on the submitting thread (a tiny estimate).")
      .def_prop_ro("estimated_cpu_s", &NativeJob::estimated_cpu_s,
                   "CPU seconds admission estimated it at.")
      .def_prop_ro("queue_wait_s", &NativeJob::queue_wait_s,
                   "Seconds from admission to the first chunk (or to retirement).")
      .def_prop_ro("run_s", &NativeJob::run_s, "Seconds from the first chunk to the finish.")
      .def_prop_ro("cpu_s", &NativeJob::cpu_s, "CPU seconds its chunks used.")
      .def("cancel", &NativeJob::cancel, "Drops the chunks not yet started.")
      .def("result", &NativeJob::result, nb::sig("def result(self) -> object"),
           "The job's value, or its failure as a gilfree error. Only once finished.");

  static gf_api table = [] {
    gf_api api = runtime::core_api();
    api.submit = &submit;
    api.call = &call;
    return api;
  }();
  m.attr("_C_API") = nb::capsule(&table, GILFREE_API_CAPSULE);
}

}  // namespace gilfree::bindings
