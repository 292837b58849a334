// Bindings of native jobs for event loops: a CompletionQueue per loop and handles of the kernels'
// jobs (process_numbers over a list or int64 buffers, sum_squares).
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "buffer.hpp"
#include "convert.hpp"
#include "errors.hpp"
#include "kernels/sum_squares.hpp"
#include "native_job.hpp"
#include "ops.hpp"
#include "runtime/completion_queue.hpp"
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

std::unique_ptr<NativeJob> submit_process_numbers_list(std::shared_ptr<CompletionQueue> queue,
                                                       nb::list numbers, std::uint64_t iterations,
                                                       std::optional<double> timeout_s) {
  auto handle = std::make_unique<NativeJob>();
  auto values = std::make_shared<std::vector<std::int64_t>>(int64s_from_list(numbers));
  const auto deadline = deadline_after(timeout_s);
  handle->executor = runtime::process_executor();
  handle->job = ops::submit_process_numbers(*handle->executor, *values, *values, iterations,
                                            deadline, std::move(queue));
  handle->keep = values;
  handle->make_result = [values] {
    nb::object out = list_from_int64s(*values);
    std::vector<std::int64_t>().swap(*values);
    return out;
  };
  return handle;
}

struct BufferPair {
  BufferPair(nb::handle in_object, nb::handle out_object)
      : in(in_object, /*writable=*/false), out(out_object, /*writable=*/true) {}
  Int64Buffer in;
  Int64Buffer out;
};

std::unique_ptr<NativeJob> submit_process_numbers_buffer(std::shared_ptr<CompletionQueue> queue,
                                                         nb::handle numbers, nb::object out,
                                                         std::uint64_t iterations,
                                                         std::optional<double> timeout_s) {
  auto handle = std::make_unique<NativeJob>();
  auto buffers = std::make_shared<BufferPair>(numbers, out);
  if (buffers->in.span().size() != buffers->out.span().size()) {
    throw InvalidInputError("output length differs from input length");
  }
  const auto deadline = deadline_after(timeout_s);
  handle->executor = runtime::process_executor();
  handle->job =
      ops::submit_process_numbers(*handle->executor, buffers->in.span(), buffers->out.span(),
                                  iterations, deadline, std::move(queue));
  handle->keep = buffers;
  handle->make_result = [out] { return out; };
  return handle;
}

std::unique_ptr<NativeJob> submit_sum_squares(std::shared_ptr<CompletionQueue> queue,
                                              std::int64_t a, std::int64_t b,
                                              std::optional<double> timeout_s) {
  auto handle = std::make_unique<NativeJob>();
  auto sum = std::make_shared<kernels::uint128>(0);
  const auto deadline = deadline_after(timeout_s);
  handle->executor = runtime::process_executor();
  handle->job =
      ops::submit_sum_squares(*handle->executor, a, b, sum.get(), deadline, std::move(queue));
  handle->keep = sum;
  handle->make_result = [sum] { return nb::object(int_from_uint128(*sum)); };
  return handle;
}

}  // namespace

std::string NativeJob::status() const {
  return job->finished() ? status_name(job->status()) : "pending";
}

double NativeJob::queue_wait_s() const {
  require_finished();
  return seconds(job->started_at() - job->submitted_at());
}

double NativeJob::run_s() const {
  require_finished();
  return seconds(job->finished_at() - job->started_at());
}

void NativeJob::require_finished() const {
  if (!job->finished()) throw std::logic_error("the job has not finished");
}

nb::object NativeJob::result() {
  require_finished();
  try {
    job->rethrow_if_unsuccessful();
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
  return make_result ? make_result() : nb::none();
}

void bind_native_job(nb::module_& m) {
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
}

void bind_jobs(nb::module_& m) {
  bind_native_job(m);
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
