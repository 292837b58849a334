// Bindings of native jobs for event loops: a CompletionQueue per loop and handles to submitted
// jobs.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "buffer.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "kernels/sum_squares.hpp"
#include "ops.hpp"
#include "runtime/completion_queue.hpp"
#include "runtime/process_executor.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

using runtime::Clock;
using runtime::CompletionQueue;
using runtime::JobStatus;

std::optional<Clock::time_point> deadline_after(std::optional<double> timeout_s) {
  if (!timeout_s) return std::nullopt;
  if (!std::isfinite(*timeout_s) || *timeout_s <= 0) {
    throw InvalidInputError("timeout must be a positive number of seconds");
  }
  // Past ~100 years the deadline would overflow the clock; it also never matters.
  const double capped = std::min(*timeout_s, 3.0e9);
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(capped));
}

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

// A submitted job and everything its chunks read and write, kept alive until it finishes. If the
// handle goes away first, the job is cancelled and waited for (at most about one chunk).
class NativeJob {
 public:
  enum class Kind { kList, kBuffer, kSumSquares };

  explicit NativeJob(Kind kind) : kind_(kind) {}
  NativeJob(const NativeJob&) = delete;
  NativeJob& operator=(const NativeJob&) = delete;
  ~NativeJob() {
    if (job_ && !job_->finished()) {
      job_->cancel();
      nb::gil_scoped_release release;
      job_->wait();
    }
  }

  [[nodiscard]] std::uint64_t id() const { return job_->id(); }
  [[nodiscard]] bool done() const { return job_->finished(); }
  void cancel() const { job_->cancel(); }
  [[nodiscard]] std::string status() const {
    return job_->finished() ? status_name(job_->status()) : "pending";
  }
  [[nodiscard]] double queue_wait_s() const {
    require_finished();
    return seconds(job_->started_at() - job_->submitted_at());
  }
  [[nodiscard]] double run_s() const {
    require_finished();
    return seconds(job_->finished_at() - job_->started_at());
  }

  // The job's value, or its failure raised as a gilfree error. Call once finished.
  nb::object result() {
    require_finished();
    try {
      job_->rethrow_if_unsuccessful();
    } catch (const InvalidInputError&) {
      throw;
    } catch (const CancelledError&) {
      throw;
    } catch (const DeadlineExceededError&) {
      throw;
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      throw NativeJobError(std::string("native job failed: ") + e.what());
    }
    switch (kind_) {
      case Kind::kList: {
        nb::list out = list_from_int64s(values_);
        std::vector<std::int64_t>().swap(values_);
        return out;
      }
      case Kind::kBuffer:
        return out_object_;
      case Kind::kSumSquares:
        return int_from_uint128(sum_);
    }
    return nb::none();
  }

  // Storage the job reads and writes; filled in before submission.
  Kind kind_;
  std::shared_ptr<runtime::Executor> executor_;  // the job's executor outlives the job
  std::shared_ptr<runtime::Job> job_;
  std::vector<std::int64_t> values_;
  std::unique_ptr<Int64Buffer> in_view_;
  std::unique_ptr<Int64Buffer> out_view_;
  nb::object out_object_;
  kernels::uint128 sum_ = 0;

 private:
  void require_finished() const {
    if (!job_->finished()) throw std::logic_error("the job has not finished");
  }
};

std::unique_ptr<NativeJob> submit_process_numbers_list(std::shared_ptr<CompletionQueue> queue,
                                                       nb::list numbers, std::uint64_t iterations,
                                                       std::optional<double> timeout_s) {
  auto handle = std::make_unique<NativeJob>(NativeJob::Kind::kList);
  handle->values_ = int64s_from_list(numbers);
  const auto deadline = deadline_after(timeout_s);
  handle->executor_ = runtime::process_executor();
  handle->job_ = ops::submit_process_numbers(*handle->executor_, handle->values_, handle->values_,
                                             iterations, deadline, std::move(queue));
  return handle;
}

std::unique_ptr<NativeJob> submit_process_numbers_buffer(std::shared_ptr<CompletionQueue> queue,
                                                         nb::handle numbers, nb::object out,
                                                         std::uint64_t iterations,
                                                         std::optional<double> timeout_s) {
  auto handle = std::make_unique<NativeJob>(NativeJob::Kind::kBuffer);
  handle->in_view_ = std::make_unique<Int64Buffer>(numbers, /*writable=*/false);
  handle->out_view_ = std::make_unique<Int64Buffer>(out, /*writable=*/true);
  if (handle->in_view_->span().size() != handle->out_view_->span().size()) {
    throw InvalidInputError("output length differs from input length");
  }
  handle->out_object_ = std::move(out);
  const auto deadline = deadline_after(timeout_s);
  handle->executor_ = runtime::process_executor();
  handle->job_ = ops::submit_process_numbers(*handle->executor_, handle->in_view_->span(),
                                             handle->out_view_->span(), iterations, deadline,
                                             std::move(queue));
  return handle;
}

std::unique_ptr<NativeJob> submit_sum_squares(std::shared_ptr<CompletionQueue> queue,
                                              std::int64_t a, std::int64_t b,
                                              std::optional<double> timeout_s) {
  auto handle = std::make_unique<NativeJob>(NativeJob::Kind::kSumSquares);
  const auto deadline = deadline_after(timeout_s);
  handle->executor_ = runtime::process_executor();
  handle->job_ =
      ops::submit_sum_squares(*handle->executor_, a, b, &handle->sum_, deadline, std::move(queue));
  return handle;
}

}  // namespace

void bind_jobs(nb::module_& m) {
  nb::class_<CompletionQueue>(m, "CompletionQueue",
                              "Finished native jobs for one event loop, signalled on a descriptor.")
      .def(nb::new_([] { return std::make_shared<CompletionQueue>(); }))
      .def("fileno", &CompletionQueue::fd, "Readable while finished jobs wait to be drained.")
      .def(
          "drain", [](CompletionQueue& q) { return q.drain(); },
          "Clears readiness and returns the ids of the jobs finished since the last drain.");

  nb::class_<NativeJob>(m, "NativeJob", "A submitted native job and the memory it works on.")
      .def_prop_ro("id", &NativeJob::id)
      .def_prop_ro("done", &NativeJob::done)
      .def_prop_ro("status", &NativeJob::status)
      .def_prop_ro("queue_wait_s", &NativeJob::queue_wait_s,
                   "Seconds from admission to the first chunk (or to retirement).")
      .def_prop_ro("run_s", &NativeJob::run_s, "Seconds from the first chunk to the finish.")
      .def("cancel", &NativeJob::cancel, "Drops the chunks not yet started.")
      .def("result", &NativeJob::result, nb::sig("def result(self) -> object"),
           "The job's value, or its failure as a gilfree error. Only once finished.");

  m.def("submit_process_numbers_list", &submit_process_numbers_list, nb::arg("queue"),
        nb::arg("numbers"), nb::arg("iterations"), nb::arg("timeout_s").none(),
        nb::sig("def submit_process_numbers_list(queue: CompletionQueue, numbers: list[int], "
                "iterations: int, timeout_s: float | None) -> NativeJob"),
        "Submits process_numbers over a list; result() gives a new list.");
  m.def("submit_process_numbers_buffer", &submit_process_numbers_buffer, nb::arg("queue"),
        nb::arg("numbers"), nb::arg("out"), nb::arg("iterations"), nb::arg("timeout_s").none(),
        "Submits process_numbers between int64 buffers; result() gives `out`.");
  m.def("submit_sum_squares", &submit_sum_squares, nb::arg("queue"), nb::arg("a"), nb::arg("b"),
        nb::arg("timeout_s").none(), "Submits sum_squares; result() gives the exact int.");
}

}  // namespace gilfree::bindings
