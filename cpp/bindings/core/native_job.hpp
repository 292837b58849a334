// NativeJob: the Python handle of any kernel's job, owning the job's state; and the mapping of the
// runtime's errors onto gilfree.errors.
#pragma once

#include <nanobind/nanobind.h>

#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "runtime/executor.hpp"
#include "runtime/kernel_abi.hpp"

namespace gilfree::bindings {

// Sets the Python exception for one of the runtime's C++ errors: KernelError by its kind
// (gilfree.InvalidInput, MemoryError, gilfree.KernelError), the others as their gilfree.errors
// classes; rethrows any other exception (nanobind's translator for this module). Needs the GIL.
void raise_runtime_error(const std::exception_ptr& error);
// The same for any exception, for the C entry points: anything else becomes gilfree.KernelError
// with its message. Needs the GIL.
void set_python_error(const std::exception_ptr& error) noexcept;

// Marks the interpreter as exiting (gilfree's atexit handler, before it stops the executor): from
// then on a thread that waited for a job with the GIL released never takes it back (see
// wait_without_gil).
void mark_exiting() noexcept;

// Waits for `job` with the GIL released, then takes the GIL back, unless the interpreter is
// exiting: CPython ends a thread that takes the GIL during finalization with pthread_exit, whose
// unwinding through C++ frames (destructors, noexcept functions) calls std::terminate. Such a
// thread (a daemon thread) is parked for good instead, as CPython 3.14 parks them itself.
void wait_without_gil(const runtime::Job& job);

// A job's deadline from a timeout in seconds (<= 0: no deadline). Past ~100 years it would
// overflow the clock; it also never matters, so it is capped there.
[[nodiscard]] std::optional<runtime::Clock::time_point> deadline_after(double timeout_s);

// Owns a job of any kernel and, through it, the job's state. If the handle goes away before the
// job finishes, the job is cancelled and waited for (about one slice, with the GIL released)
// before the state is released (with the GIL held).
class NativeJob {
 public:
  NativeJob(std::unique_ptr<runtime::DescribedJob> described,
            std::shared_ptr<runtime::Executor> executor) noexcept;
  NativeJob(const NativeJob&) = delete;
  NativeJob& operator=(const NativeJob&) = delete;
  ~NativeJob();

  [[nodiscard]] const std::shared_ptr<runtime::Job>& job() const noexcept { return job_; }
  [[nodiscard]] std::uint64_t id() const { return job_->id(); }
  [[nodiscard]] bool done() const { return job_->finished(); }
  void cancel() const { job_->cancel(); }
  [[nodiscard]] std::string status() const;
  [[nodiscard]] const std::string& kernel() const { return job_->kernel().name(); }
  [[nodiscard]] bool ran_inline() const { return job_->ran_inline(); }
  [[nodiscard]] double estimated_cpu_s() const { return job_->estimated_cpu_s(); }
  [[nodiscard]] double queue_wait_s() const;
  [[nodiscard]] double run_s() const;
  [[nodiscard]] double cpu_s() const;

  // The job's value (built once by the kernel's result builder, with the GIL; its state is then
  // released), or its failure raised as a gilfree error. Only once finished.
  nanobind::object result();

 private:
  void require_finished() const;

  std::shared_ptr<runtime::Executor> executor_;  // outlives the job
  std::shared_ptr<runtime::Job> job_;
  std::unique_ptr<runtime::DescribedJob> described_;  // the state, until the result is built
  nanobind::object result_;
  bool has_result_ = false;
};

// Binds CompletionQueue and NativeJob, and exports the C table of <gilfree/abi.h> as the capsule
// gilfree._core._C_API.
void bind_jobs(nanobind::module_& m);

}  // namespace gilfree::bindings
