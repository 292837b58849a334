// Executor: worker threads taking chunks from the active jobs in turn, with cancellation,
// deadlines, admission by queued work, and a bounded shutdown.
#include "runtime/executor.hpp"

#if defined(__linux__)
#include <pthread.h>
#endif
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "errors.hpp"
#include "runtime/cpu_info.hpp"

namespace gilfree::runtime {

Job::Job(std::uint64_t id, JobSpec spec)
    : id_(id), spec_(std::move(spec)), stage_chunks_(spec_.chunks) {
  if (spec_.kernel == nullptr) spec_.kernel = &unnamed_kernel();
}

double Job::estimated_cpu_s() const noexcept { return spec_.cost_s * admitted_correction_; }

std::uint64_t thread_cpu_ns() noexcept {
  timespec now{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) != 0) return 0;
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000U +
         static_cast<std::uint64_t>(now.tv_nsec);
}

namespace {
// Estimated CPU seconds of a job's work for each worker woken when it is submitted (see
// Executor::submit).
constexpr double kWorkPerWokenWorkerS = 100e-6;

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g s", seconds);
  return text;
}
}  // namespace

bool ChunkContext::stop_requested() const noexcept {
  if (job_ == nullptr) return false;
  JobStatus reason = JobStatus::kSucceeded;
  if (job_->cancel_requested()) {
    reason = JobStatus::kCancelled;
  } else if (job_->spec_.deadline && Clock::now() >= *job_->spec_.deadline) {
    reason = JobStatus::kDeadlineExceeded;
  } else {
    return false;
  }
  JobStatus none = JobStatus::kSucceeded;
  job_->stopped_early_.compare_exchange_strong(none, reason, std::memory_order_acq_rel);
  return true;
}

bool Job::finished() const noexcept {
  std::lock_guard lock(done_mu_);
  return done_;
}

void Job::wait() const {
  std::unique_lock lock(done_mu_);
  done_cv_.wait(lock, [this] { return done_; });
}

bool Job::wait_for(std::chrono::nanoseconds timeout) const {
  std::unique_lock lock(done_mu_);
  return done_cv_.wait_for(lock, timeout, [this] { return done_; });
}

JobStatus Job::status() const noexcept {
  std::lock_guard lock(done_mu_);
  return status_;
}

std::exception_ptr Job::error() const noexcept {
  std::lock_guard lock(done_mu_);
  return error_;
}

void Job::rethrow_if_unsuccessful() const {
  switch (status()) {
    case JobStatus::kSucceeded:
      return;
    case JobStatus::kFailed:
      std::rethrow_exception(error());
    case JobStatus::kCancelled:
      throw CancelledError("the job was cancelled");
    case JobStatus::kDeadlineExceeded:
      throw DeadlineExceededError("the job's deadline passed before it finished");
    case JobStatus::kQueued:
    case JobStatus::kRunning:
      break;
  }
  throw std::logic_error("the job has not finished");
}

Executor::Executor(unsigned threads, double max_queued_cpu_s, const std::vector<unsigned>& pin_cpus)
    : max_queued_cpu_s_(max_queued_cpu_s) {
  if (threads == 0) throw std::invalid_argument("an Executor needs at least one thread");
  if (!(max_queued_cpu_s > 0)) {
    throw std::invalid_argument("max_queued_cpu_s must be a positive number of seconds");
  }
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) {
    workers_.emplace_back([this] { worker_loop(); });
    // Pinned from here, before the constructor returns, so that stats() is exact at once.
    if (!pin_cpus.empty() && pin_thread(workers_.back(), pin_cpus[i % pin_cpus.size()])) {
      ++pinned_threads_;
    }
  }
}

Executor::~Executor() { shutdown(std::chrono::nanoseconds::zero()); }

double Executor::queued_cpu_s_locked() const noexcept {
  double total = 0;
  for (const Queued& q : queued_) total += q.kernel->estimate_s(q.declared_s);
  return total;
}

void Executor::add_queued_locked(KernelModel& kernel, double cost_s) {
  for (Queued& q : queued_) {
    if (q.kernel == &kernel) {
      q.declared_s += cost_s;
      ++q.jobs;
      return;
    }
  }
  queued_.push_back(Queued{&kernel, cost_s, 1});
}

void Executor::lower_queued_locked(KernelModel& kernel, double by_s) noexcept {
  for (Queued& q : queued_) {
    if (q.kernel == &kernel) q.declared_s = std::max(0.0, q.declared_s - by_s);
  }
}

void Executor::remove_queued_locked(KernelModel& kernel, double cost_s) noexcept {
  for (auto it = queued_.begin(); it != queued_.end(); ++it) {
    if (it->kernel != &kernel) continue;
    if (--it->jobs == 0) {
      queued_.erase(it);
    } else {
      it->declared_s = std::max(0.0, it->declared_s - cost_s);
    }
    return;
  }
}

void Executor::admit_locked(KernelModel& kernel, double cost_s) {
  if (!accepting_) {
    ++rejected_;
    kernel.count_rejected();
    throw OverloadedError("the executor is shutting down");
  }
  if (!(cost_s >= 0)) throw std::invalid_argument("a job's cost must be a non-negative number");
  if (active_jobs_ == 0) return;  // an idle executor takes any job
  const double queued = queued_cpu_s_locked();
  const double estimate = kernel.estimate_s(cost_s);
  if (queued + estimate > max_queued_cpu_s_) {
    ++rejected_;
    kernel.count_rejected();
    throw OverloadedError(
        "queued work would pass max_queued_cpu_s=" + seconds_text(max_queued_cpu_s_) +
        " of CPU time (queued " + seconds_text(queued) + ", this " + kernel.name() + " job " +
        seconds_text(estimate) + ")");
  }
}

std::shared_ptr<Job> Executor::admit_job_locked(JobSpec spec) {
  KernelModel& kernel = spec.kernel != nullptr ? *spec.kernel : unnamed_kernel();
  admit_locked(kernel, spec.cost_s);
  auto job = std::make_shared<Job>(next_id_++, std::move(spec));
  job->admitted_correction_ = kernel.correction();
  job->submitted_at_ = Clock::now();
  ++active_jobs_;
  add_queued_locked(kernel, job->spec_.cost_s);
  return job;
}

void Executor::wake_workers(std::size_t wanted) {
  if (wanted >= workers_.size()) {
    work_available_.notify_all();
  } else {
    for (std::size_t i = 0; i < std::max<std::size_t>(wanted, 1); ++i) {
      work_available_.notify_one();
    }
  }
}

std::shared_ptr<Job> Executor::submit(JobSpec spec) {
  std::shared_ptr<Job> job;
  double estimate_s = 0;
  {
    std::lock_guard lock(mu_);
    job = admit_job_locked(std::move(spec));
    estimate_s = job->spec_.kernel->estimate_s(job->spec_.cost_s);
    ++submitted_;
    job->spec_.kernel->count_submitted();
    active_.insert(job.get());
    if (job->spec_.chunks > 0) {
      job->runnable_listed_ = true;
      runnable_.push_back(job);
    }
  }
  if (job->spec_.chunks == 0) {
    job->started_at_ = job->submitted_at_;
    finish(job);
  } else {
    // As many workers as its first stage has chunks, or, for a job whose later stages spread
    // over more of them, one for each kWorkPerWokenWorkerS of its estimated work: woken now,
    // they are up by the time those stages start (waking a sleeping thread costs tens of
    // microseconds, and more where a virtual machine's idle CPU must be woken too).
    const double worth = std::floor(estimate_s / kWorkPerWokenWorkerS);
    std::size_t for_work = 0;
    if (worth >= static_cast<double>(workers_.size())) {
      for_work = workers_.size();
    } else if (worth >= 1) {  // not for a NaN either
      for_work = static_cast<std::size_t>(worth);
    }
    wake_workers(std::max(job->spec_.chunks, for_work));
  }
  return job;
}

std::shared_ptr<Job> Executor::run_inline(JobSpec spec) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    job = admit_job_locked(std::move(spec));
    job->inline_ = true;
    ++inline_runs_;
    job->spec_.kernel->count_inline();
  }
  const JobSpec& s = job->spec_;
  const auto start = job->submitted_at_;
  job->started_at_ = start;
  try {
    std::size_t stage = 0;
    for (std::size_t chunks = s.chunks; chunks > 0; ++stage) {
      for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
        for (;;) {
          ChunkContext context(stage);
          s.run_chunk(chunk, context);
          if (!context.run_again_requested()) break;
        }
      }
      if (!s.next_stage) break;
      const StagePlan plan = s.next_stage(stage);
      if (plan.cost_s && *plan.cost_s < job->spec_.cost_s) {
        std::lock_guard lock(mu_);
        lower_queued_locked(*job->spec_.kernel, job->spec_.cost_s - *plan.cost_s);
        job->spec_.cost_s = *plan.cost_s;
      }
      chunks = plan.chunks;
    }
  } catch (...) {
    job->error_ = std::current_exception();
    job->failed_.store(true, std::memory_order_release);
  }
  const auto now = Clock::now();
  // Inline work is microseconds long: the wall clock is the thread's time, for a fraction of
  // the thread clock's cost.
  job->cpu_ns_.store(static_cast<std::uint64_t>(
                         std::chrono::duration_cast<std::chrono::nanoseconds>(now - start).count()),
                     std::memory_order_relaxed);
  const JobStatus status =
      job->failed_.load(std::memory_order_acquire) ? JobStatus::kFailed : JobStatus::kSucceeded;
  {
    std::lock_guard lock(mu_);
    --active_jobs_;
    remove_queued_locked(*job->spec_.kernel, job->spec_.cost_s);
    count_finished_locked(*job, status);
  }
  job_finished_.notify_all();
  job->spec_.run_chunk = nullptr;
  job->spec_.next_stage = nullptr;
  job->spec_.sink = nullptr;
  {
    std::lock_guard lock(job->done_mu_);
    job->finished_at_ = now;
    job->status_ = status;
    job->done_ = true;
  }
  return job;
}

void Executor::count_finished_locked(const Job& job, JobStatus status) {
  outcomes_.count(status);
  KernelModel& kernel = *job.spec_.kernel;
  const double declared = job.spec_.cost_s;
  const double measured = job.cpu_s();
  if (status == JobStatus::kSucceeded) kernel.observe_finished(declared, measured);
  kernel.count_finished(status, declared, job.estimated_cpu_s(), measured);
}

void Executor::run(std::size_t chunks, ChunkFunction run_chunk, double cost_s) {
  JobSpec spec;
  spec.chunks = chunks;
  spec.run_chunk = std::move(run_chunk);
  spec.cost_s = cost_s;
  const auto job = submit(std::move(spec));
  job->wait();
  job->rethrow_if_unsuccessful();
}

Executor::Claim Executor::claim_locked(Clock::time_point now) {
  while (!runnable_.empty()) {
    if (cursor_ >= runnable_.size()) cursor_ = 0;
    const auto it = runnable_.begin() + static_cast<std::ptrdiff_t>(cursor_);
    std::shared_ptr<Job> job = *it;
    if (!job->started_) {
      job->started_ = true;
      job->started_at_ = now;
    }
    JobStatus retire = JobStatus::kSucceeded;
    if (job->failed_.load(std::memory_order_acquire)) {
      retire = JobStatus::kFailed;
    } else if (job->cancel_requested()) {
      retire = JobStatus::kCancelled;
    } else if (job->spec_.deadline && now >= *job->spec_.deadline) {
      retire = JobStatus::kDeadlineExceeded;
    } else if (stopping_) {
      retire = JobStatus::kCancelled;
    }
    if (retire != JobStatus::kSucceeded) {
      const std::size_t dropped =
          (job->stage_chunks_ - job->next_chunk_) + (job->again_.size() - job->again_front_);
      job->next_chunk_ = job->stage_chunks_;
      job->again_.clear();
      job->again_front_ = 0;
      job->retire_reason_ = retire;
      job->runnable_listed_ = false;
      runnable_.erase(it);
      const std::size_t stage = job->stage_;
      return Claim{std::move(job), std::nullopt, dropped, stage};
    }
    std::size_t chunk = 0;
    if (job->again_front_ < job->again_.size()) {
      chunk = job->again_[job->again_front_++];
      if (job->again_front_ == job->again_.size()) {
        job->again_.clear();
        job->again_front_ = 0;
      }
    } else {
      chunk = job->next_chunk_++;
    }
    if (job->next_chunk_ == job->stage_chunks_ && job->again_.empty()) {
      job->runnable_listed_ = false;
      runnable_.erase(it);  // the cursor now points at the next job already
    } else {
      ++cursor_;
    }
    const std::size_t stage = job->stage_;
    return Claim{std::move(job), chunk, 1, stage};
  }
  return Claim{};
}

void Executor::requeue_chunk(const std::shared_ptr<Job>& job, std::size_t chunk) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      job->retire_reason_ = JobStatus::kCancelled;  // shutting down: no more slices
    } else if (job->retire_reason_ != JobStatus::kSucceeded) {
      // Retired while this slice ran: the chunk is dropped like the others.
    } else {
      job->again_.push_back(chunk);
      if (!job->runnable_listed_) {
        job->runnable_listed_ = true;
        runnable_.push_back(job);
      }
      work_available_.notify_one();
      return;
    }
  }
  complete_chunks(job, 1);
}

void Executor::worker_loop() {
#if defined(__linux__)
  // Visible in top -H, /proc/PID/task/*/comm and debuggers (15 characters at most).
  pthread_setname_np(pthread_self(), "gilfree-worker");
#endif
  std::unique_lock lock(mu_);
  for (;;) {
    work_available_.wait(lock, [this] { return stopping_ || !runnable_.empty(); });
    if (runnable_.empty()) return;  // stopping, and nothing left to claim
    Claim claim = claim_locked(Clock::now());
    lock.unlock();
    bool again = false;
    if (claim.chunk) {
      Job& job = *claim.job;
      if (!job.failed_.load(std::memory_order_acquire)) {
        busy_workers_.fetch_add(1, std::memory_order_relaxed);
        ChunkContext context(job, claim.stage);
        const std::uint64_t cpu_before = thread_cpu_ns();
        try {
          job.spec_.run_chunk(*claim.chunk, context);
          again = context.run_again_requested() && !context.stop_requested();
        } catch (...) {
          if (!job.failed_.exchange(true, std::memory_order_acq_rel)) {
            job.error_ = std::current_exception();
          }
        }
        const std::uint64_t used = thread_cpu_ns() - cpu_before;
        const std::uint64_t so_far = job.cpu_ns_.fetch_add(used, std::memory_order_relaxed) + used;
        job.spec_.kernel->observe_running(job.spec_.cost_s, static_cast<double>(so_far) * 1e-9);
        busy_workers_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    if (again) {
      requeue_chunk(claim.job, *claim.chunk);
    } else {
      complete_chunks(claim.job, claim.count);
    }
    claim.job.reset();
    lock.lock();
  }
}

void Executor::complete_chunks(const std::shared_ptr<Job>& job, std::size_t count) {
  // The stage's chunk count, read before these chunks are counted: once they are, the last
  // finisher may start the next stage and set it anew (read after, a worker that was not last
  // could compare its count with the next stage's and take itself for the last).
  const std::size_t stage_chunks = job->stage_chunks_;
  // acq_rel: the last finisher sees every chunk's writes (results, error_) before finishing.
  if (job->chunks_done_.fetch_add(count, std::memory_order_acq_rel) + count == stage_chunks &&
      !start_next_stage(job)) {
    finish(job);
  }
}

bool Executor::start_next_stage(const std::shared_ptr<Job>& job) {
  if (!job->spec_.next_stage || job->failed_.load(std::memory_order_acquire) ||
      job->stopped_early_.load(std::memory_order_acquire) != JobStatus::kSucceeded) {
    return false;
  }
  std::size_t finished_stage = 0;
  {
    std::lock_guard lock(mu_);
    if (job->retire_reason_ != JobStatus::kSucceeded) return false;
    finished_stage = job->stage_;
  }
  StagePlan plan;
  try {
    plan = job->spec_.next_stage(finished_stage);
  } catch (...) {
    job->error_ = std::current_exception();
    job->failed_.store(true, std::memory_order_release);
    return false;
  }
  {
    std::lock_guard lock(mu_);
    if (plan.cost_s && *plan.cost_s < job->spec_.cost_s) {
      lower_queued_locked(*job->spec_.kernel, job->spec_.cost_s - *plan.cost_s);
      job->spec_.cost_s = *plan.cost_s;
    }
    if (plan.chunks == 0) return false;
    // Listed even when the job was cancelled meanwhile (or the executor is stopping): the next
    // claim retires it, as any other job. A worker is running this, so one will claim it.
    ++job->stage_;
    job->stage_chunks_ = plan.chunks;
    job->next_chunk_ = 0;
    job->chunks_done_.store(0, std::memory_order_relaxed);
    job->runnable_listed_ = true;
    runnable_.push_back(job);
  }
  wake_workers(plan.chunks);
  return true;
}

void Executor::finish(const std::shared_ptr<Job>& job) {
  JobStatus status = JobStatus::kSucceeded;
  if (job->failed_.load(std::memory_order_acquire)) {
    status = JobStatus::kFailed;
  } else {
    std::lock_guard lock(mu_);
    status = job->retire_reason_;
  }
  if (status == JobStatus::kSucceeded) {
    // A chunk that returned early left its part unfinished: the job did not succeed.
    status = job->stopped_early_.load(std::memory_order_acquire);
  }
  const auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    --active_jobs_;
    active_.erase(job.get());
    remove_queued_locked(*job->spec_.kernel, job->spec_.cost_s);
    count_finished_locked(*job, status);
  }
  job_finished_.notify_all();
  std::shared_ptr<CompletionSink> sink = std::move(job->spec_.sink);
  job->spec_.run_chunk = nullptr;  // no chunk runs any more: free what it holds now
  job->spec_.next_stage = nullptr;
  {
    std::lock_guard lock(job->done_mu_);
    job->finished_at_ = now;
    job->status_ = status;
    job->done_ = true;
  }
  job->done_cv_.notify_all();
  if (sink) sink->job_finished(job);
}

void Executor::shutdown(std::chrono::nanoseconds grace) {
  {
    std::unique_lock lock(mu_);
    accepting_ = false;
    if (!stopping_) {
      job_finished_.wait_for(lock, grace, [this] { return active_jobs_ == 0; });
      // Every job still active, including those whose chunks are all running, stops at its next
      // poll or slice.
      for (Job* job : active_) job->cancel();
      stopping_ = true;
    }
  }
  work_available_.notify_all();
  std::lock_guard join_lock(join_mu_);
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

ExecutorStats Executor::stats() const {
  std::lock_guard lock(mu_);
  ExecutorStats s;
  s.threads = threads();
  s.pinned_threads = pinned_threads_;
  s.busy_workers = busy_workers_.load(std::memory_order_relaxed);
  s.active_jobs = active_jobs_;
  s.queued_cpu_s = queued_cpu_s_locked();
  s.max_queued_cpu_s = max_queued_cpu_s_;
  s.submitted = submitted_;
  s.inline_runs = inline_runs_;
  s.rejected = rejected_;
  static_cast<Outcomes&>(s) = outcomes_;
  return s;
}

}  // namespace gilfree::runtime
