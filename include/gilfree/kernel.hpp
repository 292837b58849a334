// gilfree's public kernel API, header-only and without Python: a job described once, as a class
// or as lambdas, that gilfree's workers run through the C table of <gilfree/abi.h>.
//
// A job is any class with
//
//   void run(std::size_t chunk, gilfree::Chunk& context);   // required: one chunk of work
//   std::size_t chunks() const;                             // optional: of the first stage (1)
//   double cost_s() const;                                  // optional: estimated CPU seconds
//   gilfree::Stage next_stage(std::size_t finished);        // optional: more stages
//   R result();                                             // optional: taken once it succeeded
//
// or a gilfree::Job<R> holding the same as lambdas. The rules a job follows:
//
// - run() executes on gilfree's worker threads without the GIL: no Python in it. Chunks of one
//   stage run at the same time on several workers, so each writes only its own part of the
//   output; a chunk asked to run again is never run twice at once.
// - A chunk should be about 50 to 200 microseconds of work: the workers take turns between the
//   jobs after every chunk, so that is how long a small job waits behind a huge one. A longer
//   chunk polls context.stop_requested() (return early when it is true: the job ends cancelled or
//   past its deadline) or does a slice of its work and calls context.run_again().
// - cost_s() is the job's CPU time on one core, in seconds, as well as the kernel can guess it
//   (100 microseconds per chunk when absent). Admission counts queued work in these seconds, for
//   every kernel alike; the runtime measures each kernel's chunks and corrects its estimates, so
//   a guess wrong by a constant factor costs a few jobs, not a flood.
// - next_stage(finished) runs once every chunk of stage `finished` has run (on the worker that
//   finished the last one): it returns the next stage's chunks (0: done) and may revise the whole
//   job's cost downwards, once it knows better (a request parsed: its numbers counted).
// - A job's object lives from its submission until its last chunk has returned and its result
//   has been taken; it is then destroyed, with the GIL held. Read-only state shared by many jobs
//   (an index loaded once) is held as a gilfree::Shared<T>: every job that reads it keeps it
//   alive. Chunks read it through the job's handle and never copy or drop a handle themselves
//   (its last owner may be a Python object, released only with the GIL).
// - Exceptions thrown by run() or next_stage() fail the job and reach Python with their message:
//   gilfree::InvalidInput as gilfree.InvalidInput, std::bad_alloc as MemoryError, anything else as
//   gilfree.KernelError. The worker goes on serving.
#pragma once

#include <gilfree/abi.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace gilfree {

namespace detail {
inline const gf_api*& api_slot() noexcept {
  static const gf_api* api = nullptr;
  return api;
}
}  // namespace detail

// The runtime's table: set by gilfree::python::import_runtime() in a Python module, or by a C++
// program that embeds the runtime itself.
[[nodiscard]] inline const gf_api& api() noexcept { return *detail::api_slot(); }
[[nodiscard]] inline bool has_api() noexcept { return detail::api_slot() != nullptr; }
inline void set_api(const gf_api* table) noexcept { detail::api_slot() = table; }

// Thrown by a kernel when its input cannot be processed; `index` names the offending element.
class InvalidInput : public std::invalid_argument {
 public:
  explicit InvalidInput(const std::string& message, std::optional<std::size_t> index = std::nullopt)
      : std::invalid_argument(message), index_(index) {}
  [[nodiscard]] std::optional<std::size_t> index() const noexcept { return index_; }

 private:
  std::optional<std::size_t> index_;
};

// What one run of a chunk (or of next_stage) may ask of the runtime.
class Chunk {
 public:
  explicit Chunk(gf_chunk* context) noexcept : context_(context) {}

  // True once the job is cancelled or past its deadline: return early, the job then ends so.
  [[nodiscard]] bool stop_requested() const noexcept { return api().stop_requested(context_) != 0; }
  // Run this chunk again later: it did one slice of its work and keeps its own progress.
  void run_again() noexcept { api().run_again(context_); }
  // The stage this chunk belongs to (0 for the first).
  [[nodiscard]] std::size_t stage() const noexcept { return api().stage(context_); }

  [[nodiscard]] gf_chunk* context() const noexcept { return context_; }

 private:
  gf_chunk* context_;
};

// A job's next stage: `chunks` more (0: the job is done) and, optionally, the whole job's cost as
// it is now better known (only a lower one is taken).
struct Stage {
  std::size_t chunks = 0;
  std::optional<double> cost_s;
};

// A kernel: the name its jobs are counted under in metrics and whose cost model learns from
// them. Names are process-wide, so a package prefixes its own ("fuzzy.top_k").
struct Kernel {
  std::string_view name;

  // The registered kernel (registered on first use). Needs the runtime's table.
  [[nodiscard]] gf_kernel* handle() const {
    gf_kernel* kernel = api().kernel(name.data(), name.size());
    if (kernel == nullptr) throw std::invalid_argument("a kernel needs a non-empty name");
    return kernel;
  }
  // Estimated CPU seconds of a job of this kernel declared at `cost_s`, as the runtime has
  // corrected this kernel's declarations so far.
  [[nodiscard]] double estimate_s(double cost_s) const {
    return api().estimate_s(handle(), cost_s);
  }
};

// Read-only state shared by many jobs: see the lifetime rule above.
template <class T>
using Shared = std::shared_ptr<const T>;

// Estimated CPU seconds of one chunk when a job does not say.
inline constexpr double kDefaultChunkCost_s = 100e-6;

// A job made of lambdas: the same members as a job class, as std::function values. `cost_s` < 0
// means kDefaultChunkCost_s per chunk.
template <class Result = void>
struct Job {
  std::size_t chunks = 1;
  double cost_s = -1.0;
  std::function<void(std::size_t chunk, Chunk& context)> run;
  std::function<Stage(std::size_t finished)> next_stage;  // empty: one stage
  std::function<Result()> result;                         // empty: None
};

namespace detail {

template <class T>
struct is_lambda_job : std::false_type {};
template <class R>
struct is_lambda_job<Job<R>> : std::true_type {};
template <class T>
inline constexpr bool is_lambda_job_v = is_lambda_job<std::remove_cv_t<T>>::value;

}  // namespace detail

// What gilfree can run: a job class (see above) or a gilfree::Job.
template <class T>
concept JobLike = detail::is_lambda_job_v<T> ||
                  requires(T& job, std::size_t chunk, Chunk& context) { job.run(chunk, context); };

namespace detail {

template <class T>
concept has_chunks = requires(const T& job) {
  { job.chunks() } -> std::convertible_to<std::size_t>;
};
template <class T>
concept has_cost = requires(const T& job) {
  { job.cost_s() } -> std::convertible_to<double>;
};
template <class T>
concept has_next_stage = requires(T& job, std::size_t finished) {
  { job.next_stage(finished) } -> std::convertible_to<Stage>;
};
template <class T>
concept has_result = requires(T& job) { job.result(); };

template <JobLike T>
std::size_t chunks_of(const T& job) {
  if constexpr (is_lambda_job_v<T>) {
    return job.chunks;
  } else if constexpr (has_chunks<T>) {
    return static_cast<std::size_t>(job.chunks());
  } else {
    return 1;
  }
}

template <JobLike T>
double cost_of(const T& job, std::size_t chunks) {
  double cost = -1.0;
  if constexpr (is_lambda_job_v<T>) {
    cost = job.cost_s;
  } else if constexpr (has_cost<T>) {
    cost = static_cast<double>(job.cost_s());
  }
  return cost >= 0 ? cost : kDefaultChunkCost_s * static_cast<double>(chunks);
}

// Hands the exception being handled to the runtime, as the failure of this callback.
inline void fail_with_current_exception(gf_chunk* context) noexcept {
  const auto fail = [context](int kind, const char* message, std::int64_t index) noexcept {
    api().fail(context, kind, message, std::strlen(message), index);
  };
  try {
    throw;
  } catch (const InvalidInput& e) {
    const auto index = e.index();
    fail(GF_ERROR_INVALID_INPUT, e.what(), index ? static_cast<std::int64_t>(*index) : -1);
  } catch (const std::bad_alloc&) {
    fail(GF_ERROR_NO_MEMORY, "out of memory", -1);
  } catch (const std::exception& e) {
    fail(GF_ERROR_KERNEL, e.what(), -1);
  } catch (...) {
    fail(GF_ERROR_KERNEL, "the kernel threw something that is not a std::exception", -1);
  }
}

template <JobLike T>
int run_chunk(void* state, std::size_t chunk, gf_chunk* context) noexcept {
  try {
    Chunk handle(context);
    static_cast<T*>(state)->run(chunk, handle);
    return GF_OK;
  } catch (...) {
    fail_with_current_exception(context);
    return GF_FAILED;
  }
}

template <JobLike T>
int next_stage(void* state, std::size_t finished, gf_stage* next, gf_chunk* context) noexcept {
  try {
    T& job = *static_cast<T*>(state);
    Stage stage;
    if constexpr (is_lambda_job_v<T>) {
      if (job.next_stage) stage = job.next_stage(finished);
    } else {
      stage = job.next_stage(finished);
    }
    next->chunks = stage.chunks;
    next->cost_s = stage.cost_s ? *stage.cost_s : -1.0;
    return GF_OK;
  } catch (...) {
    fail_with_current_exception(context);
    return GF_FAILED;
  }
}

template <JobLike T>
void release(void* state) noexcept {
  delete static_cast<T*>(state);
}

// The descriptor of `job` for `kernel`: its state is `job`, whose ownership passes to whoever
// submits the descriptor (the runtime releases it). The result builder is left to the caller
// (<gilfree/python.hpp> adds one).
template <JobLike T>
gf_job_desc describe(gf_kernel* kernel, T* job) {
  gf_job_desc desc{};
  desc.struct_size = sizeof(gf_job_desc);
  desc.kernel = kernel;
  desc.chunks = chunks_of(*job);
  desc.cost_s = cost_of(*job, desc.chunks);
  desc.state = job;
  desc.run_chunk = &run_chunk<T>;
  if constexpr (is_lambda_job_v<T> || has_next_stage<T>) desc.next_stage = &next_stage<T>;
  desc.release = &release<T>;
  return desc;
}

}  // namespace detail
}  // namespace gilfree
