// The runtime's side of the C boundary for kernels (<gilfree/abi.h>): the table's entries that
// need no Python, and executor jobs made from the descriptors kernel modules hand over.
#pragma once

#include <gilfree/abi.h>

#include <gilfree/kernel.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "runtime/executor.hpp"

namespace gilfree::runtime {

// A gf_kernel is a KernelModel, a gf_chunk a ChunkContext.
[[nodiscard]] inline gf_kernel* to_c(KernelModel& kernel) noexcept {
  return reinterpret_cast<gf_kernel*>(&kernel);
}
[[nodiscard]] inline KernelModel& from_c(gf_kernel* kernel) noexcept {
  return *reinterpret_cast<KernelModel*>(kernel);
}
[[nodiscard]] inline gf_chunk* to_c(ChunkContext& context) noexcept {
  return reinterpret_cast<gf_chunk*>(&context);
}

// The size of a descriptor as ABI 1.0 defined it: the least the runtime reads.
inline constexpr std::size_t kJobDescMinSize = offsetof(gf_job_desc, release) + sizeof(void*);

// A descriptor's fields, read as far as its struct_size covers them (fields a module built
// against an older minor version does not know keep their defaults) and checked.
struct JobDescription {
  KernelModel* kernel = nullptr;
  std::size_t chunks = 0;
  double cost_s = 0;
  void* state = nullptr;
  int (*run_chunk)(void*, std::size_t, gf_chunk*) = nullptr;
  int (*next_stage)(void*, std::size_t, gf_stage*, gf_chunk*) = nullptr;
  struct _object* (*build_result)(void*) = nullptr;
  void (*release)(void*) = nullptr;
};

// Reads `desc`: KernelError for one the runtime cannot run (too small for this ABI, no kernel or
// no run_chunk, 0 or more than GILFREE_MAX_CHUNKS chunks, a cost that is not a finite number of
// seconds >= 0). Its state and release are read first, so that the caller can release the state
// whatever else is wrong.
[[nodiscard]] JobDescription read_job_desc(const gf_job_desc& desc);

// An executor job running the described callbacks (the state is not released by it: the owner
// of the job does that once the job has finished). A callback that returns GF_FAILED fails the
// job with a KernelError carrying what it reported.
[[nodiscard]] JobSpec job_spec(const JobDescription& job);

// A job described across the C boundary, owning its state: once the job has finished (it waits
// for that first), the state is released. A job whose owner goes away is therefore never left
// running on memory that is gone.
class DescribedJob {
 public:
  explicit DescribedJob(const JobDescription& description) noexcept : description_(description) {}
  DescribedJob(const DescribedJob&) = delete;
  DescribedJob& operator=(const DescribedJob&) = delete;
  ~DescribedJob();

  // Starts the job on `executor`, or runs it at once on the calling thread (`run_inline`):
  // OverloadedError when the executor refuses it.
  void start(Executor& executor, bool run_inline, std::optional<Clock::time_point> deadline,
             std::shared_ptr<CompletionSink> sink);

  [[nodiscard]] const std::shared_ptr<Job>& job() const noexcept { return job_; }
  [[nodiscard]] const JobDescription& description() const noexcept { return description_; }
  template <class T>
  [[nodiscard]] T& state() const noexcept {
    return *static_cast<T*>(description_.state);
  }

 private:
  JobDescription description_;
  std::shared_ptr<Job> job_;
};

// Reads `desc` and takes ownership of its state (released at once when the descriptor is wrong;
// the job's failure is then a KernelError).
[[nodiscard]] std::unique_ptr<DescribedJob> take_job_desc(const gf_job_desc& desc);

// A table with every entry that needs no Python; `submit` and `call` are null (gilfree._core
// fills them in). Its strings live for the life of the process.
[[nodiscard]] gf_api core_api() noexcept;

// For C++ programs that embed the runtime without Python (tests, benchmarks, the fuzzer): makes
// core_api() the process's table, once, unless one is set already.
void use_core_api() noexcept;

// The same way in as a kernel module's, for such programs: `job` (a public-API job) described
// and started on `executor` (or run at once), owned by the returned handle.
template <JobLike T>
[[nodiscard]] std::unique_ptr<DescribedJob> start_job(
    Executor& executor, Kernel kernel, T job, bool run_inline = false,
    std::optional<Clock::time_point> deadline = std::nullopt,
    std::shared_ptr<CompletionSink> sink = nullptr) {
  use_core_api();
  auto owned = std::make_unique<T>(std::move(job));
  const gf_job_desc desc = gilfree::detail::describe(kernel.handle(), owned.get());
  owned.release();
  auto described = take_job_desc(desc);
  described->start(executor, run_inline, deadline, std::move(sink));
  return described;
}

}  // namespace gilfree::runtime
