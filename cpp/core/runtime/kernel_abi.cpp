// The C boundary's runtime side: kernel registration, chunk contexts and descriptors turned into
// executor jobs. Every entry point is noexcept: nothing C++ crosses to the module's side.
#include "runtime/kernel_abi.hpp"

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "build_info.hpp"
#include "errors.hpp"

namespace gilfree::runtime {
namespace {

ChunkContext& from_c(gf_chunk* context) noexcept {
  return *reinterpret_cast<ChunkContext*>(context);
}
const ChunkContext& from_c(const gf_chunk* context) noexcept {
  return *reinterpret_cast<const ChunkContext*>(context);
}

gf_kernel* kernel_named(const char* name, std::size_t size) noexcept {
  if (name == nullptr || size == 0) return nullptr;
  try {
    return to_c(kernel_model(std::string_view(name, size)));
  } catch (...) {
    return nullptr;  // out of memory
  }
}

double estimate_s(const gf_kernel* kernel, double cost_s) noexcept {
  return reinterpret_cast<const KernelModel*>(kernel)->estimate_s(cost_s);
}

int stop_requested(gf_chunk* context) noexcept { return from_c(context).stop_requested() ? 1 : 0; }

void run_again(gf_chunk* context) noexcept { from_c(context).run_again(); }

std::size_t stage(const gf_chunk* context) noexcept { return from_c(context).stage(); }

void fail(gf_chunk* context, int kind, const char* message, std::size_t size,
          std::int64_t index) noexcept {
  try {
    ChunkContext::Failure failure;
    failure.kind = kind;
    if (message != nullptr) failure.message.assign(message, size);
    failure.index = index;
    from_c(context).fail(std::move(failure));
  } catch (...) {
    // Out of memory for the message: the job still fails, without it.
  }
}

// What a callback that returned GF_FAILED reported, as the job's exception.
[[noreturn]] void throw_failure(const ChunkContext& context, const KernelModel& kernel) {
  const auto& failure = context.failure();
  if (!failure) {
    throw KernelError(GF_ERROR_KERNEL, "kernel '" + kernel.name() + "' failed without saying why");
  }
  int kind = failure->kind;
  if (kind != GF_ERROR_INVALID_INPUT && kind != GF_ERROR_NO_MEMORY) kind = GF_ERROR_KERNEL;
  std::optional<std::size_t> index;
  if (failure->index >= 0) index = static_cast<std::size_t>(failure->index);
  throw KernelError(kind, failure->message, index);
}

void check_chunks(std::size_t chunks, const KernelModel& kernel, const char* what) {
  if (chunks > GILFREE_MAX_CHUNKS) {
    throw KernelError(GF_ERROR_KERNEL, "kernel '" + kernel.name() + "' asked for " +
                                           std::to_string(chunks) + " chunks " + what +
                                           "; at most " + std::to_string(GILFREE_MAX_CHUNKS));
  }
}

}  // namespace

JobDescription read_job_desc(const gf_job_desc& desc) {
  JobDescription job;
  if (desc.struct_size < kJobDescMinSize) {
    throw KernelError(GF_ERROR_KERNEL, "a job descriptor of " + std::to_string(desc.struct_size) +
                                           " bytes is smaller than kernel ABI 1.0's " +
                                           std::to_string(kJobDescMinSize));
  }
  job.state = desc.state;
  job.release = desc.release;
  if (desc.kernel == nullptr) throw KernelError(GF_ERROR_KERNEL, "a job descriptor has no kernel");
  job.kernel = &from_c(desc.kernel);
  if (desc.run_chunk == nullptr) {
    throw KernelError(GF_ERROR_KERNEL, "kernel '" + job.kernel->name() + "' has no run_chunk");
  }
  if (desc.chunks == 0) {
    throw KernelError(GF_ERROR_KERNEL, "kernel '" + job.kernel->name() +
                                           "' asked for 0 chunks; a job has at least one");
  }
  check_chunks(desc.chunks, *job.kernel, "in its first stage");
  if (!std::isfinite(desc.cost_s) || desc.cost_s < 0) {
    throw KernelError(GF_ERROR_KERNEL, "kernel '" + job.kernel->name() +
                                           "' declared a cost that is not a finite number of "
                                           "seconds >= 0");
  }
  job.chunks = desc.chunks;
  job.cost_s = desc.cost_s;
  job.run_chunk = desc.run_chunk;
  job.next_stage = desc.next_stage;
  job.build_result = desc.build_result;
  return job;
}

JobSpec job_spec(const JobDescription& job) {
  JobSpec spec;
  spec.chunks = job.chunks;
  spec.cost_s = job.cost_s;
  spec.kernel = job.kernel;
  spec.run_chunk = [state = job.state, run = job.run_chunk, kernel = job.kernel](
                       std::size_t chunk, ChunkContext& context) {
    if (run(state, chunk, to_c(context)) != GF_OK) throw_failure(context, *kernel);
  };
  if (job.next_stage != nullptr) {
    spec.next_stage = [state = job.state, plan = job.next_stage,
                       kernel = job.kernel](std::size_t finished) {
      ChunkContext context(finished);
      gf_stage next{0, -1.0};
      if (plan(state, finished, &next, to_c(context)) != GF_OK) throw_failure(context, *kernel);
      check_chunks(next.chunks, *kernel, "for a stage");
      StagePlan stage_plan;
      stage_plan.chunks = next.chunks;
      if (std::isfinite(next.cost_s) && next.cost_s >= 0) stage_plan.cost_s = next.cost_s;
      return stage_plan;
    };
  }
  return spec;
}

DescribedJob::~DescribedJob() {
  if (job_) job_->wait();
  if (description_.release != nullptr) description_.release(description_.state);
}

void DescribedJob::start(Executor& executor, bool run_inline,
                         std::optional<Clock::time_point> deadline,
                         std::shared_ptr<CompletionSink> sink) {
  JobSpec spec = job_spec(description_);
  spec.deadline = deadline;
  if (run_inline) {
    job_ = executor.run_inline(std::move(spec));
  } else {
    spec.sink = std::move(sink);
    job_ = executor.submit(std::move(spec));
  }
}

std::unique_ptr<DescribedJob> take_job_desc(const gf_job_desc& desc) {
  JobDescription owner;  // whose state goes if reading fails
  if (desc.struct_size >= kJobDescMinSize) {
    owner.state = desc.state;
    owner.release = desc.release;
  }
  try {
    return std::make_unique<DescribedJob>(read_job_desc(desc));
  } catch (...) {
    if (owner.release != nullptr) owner.release(owner.state);
    throw;
  }
}

void use_core_api() noexcept {
  // Once, under the guard of a static's initialisation: later calls from any thread only read it.
  static const bool installed = [] {
    static const gf_api table = core_api();
    if (!gilfree::has_api()) gilfree::set_api(&table);
    return true;
  }();
  (void)installed;
}

gf_api core_api() noexcept {
  static const std::string version = build_info().version;
  gf_api api{};
  api.struct_size = sizeof(gf_api);
  api.abi_major = GILFREE_ABI_MAJOR;
  api.abi_minor = GILFREE_ABI_MINOR;
  api.version = version.c_str();
  api.kernel = &kernel_named;
  api.estimate_s = &estimate_s;
  api.stop_requested = &stop_requested;
  api.run_again = &run_again;
  api.stage = &stage;
  api.fail = &fail;
  return api;
}

}  // namespace gilfree::runtime
