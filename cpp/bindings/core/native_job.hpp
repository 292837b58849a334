// NativeJob: the Python handle of a submitted job, owning the memory the job reads and writes.
#pragma once

#include <nanobind/nanobind.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "errors.hpp"
#include "runtime/executor.hpp"

namespace gilfree::bindings {

// A job's deadline from a timeout in seconds (None: no deadline).
inline std::optional<runtime::Clock::time_point> deadline_after(std::optional<double> timeout_s) {
  if (!timeout_s) return std::nullopt;
  if (!std::isfinite(*timeout_s) || *timeout_s <= 0) {
    throw InvalidInputError("timeout must be a positive number of seconds");
  }
  // Past ~100 years the deadline would overflow the clock; it also never matters.
  const double capped = *timeout_s < 3.0e9 ? *timeout_s : 3.0e9;
  return runtime::Clock::now() + std::chrono::duration_cast<runtime::Clock::duration>(
                                     std::chrono::duration<double>(capped));
}

// Owns a submitted job, the executor it runs on, and (through `keep` and `make_result`) every
// buffer its chunks touch. If the handle goes away before the job finishes, the job is cancelled
// and waited for (about one slice) before that memory is released.
class NativeJob {
 public:
  NativeJob() = default;
  NativeJob(const NativeJob&) = delete;
  NativeJob& operator=(const NativeJob&) = delete;
  ~NativeJob() {
    if (job && !job->finished()) {
      job->cancel();
      nanobind::gil_scoped_release release;
      job->wait();
    }
  }

  [[nodiscard]] std::uint64_t id() const { return job->id(); }
  [[nodiscard]] bool done() const { return job->finished(); }
  void cancel() const { job->cancel(); }
  [[nodiscard]] std::string status() const;
  [[nodiscard]] double queue_wait_s() const;
  [[nodiscard]] double run_s() const;

  // The job's value (built by make_result, with the GIL), or its failure raised as a gilfree
  // error. Only once finished.
  nanobind::object result();

  std::shared_ptr<runtime::Executor> executor;  // outlives the job
  std::shared_ptr<runtime::Job> job;
  std::shared_ptr<void> keep;  // storage the chunks use
  std::function<nanobind::object()> make_result;

 private:
  void require_finished() const;
};

// Binds NativeJob (once, by bind_jobs).
void bind_native_job(nanobind::module_& m);

}  // namespace gilfree::bindings
