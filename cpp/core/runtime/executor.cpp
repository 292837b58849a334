// Executor: worker threads taking chunks from the active jobs in turn, with cancellation,
// deadlines, admission by queued work, and a bounded shutdown.
#include "runtime/executor.hpp"

#if defined(__linux__)
#include <pthread.h>
#endif

#include <stdexcept>
#include <string>

#include "errors.hpp"

namespace gilfree::runtime {

Job::Job(std::uint64_t id, JobSpec spec)
    : id_(id), spec_(std::move(spec)), stage_chunks_(spec_.chunks) {}

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

Executor::Executor(unsigned threads, std::uint64_t max_queued_work)
    : max_queued_work_(max_queued_work) {
  if (threads == 0) throw std::invalid_argument("an Executor needs at least one thread");
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

Executor::~Executor() { shutdown(std::chrono::nanoseconds::zero()); }

void Executor::admit_locked(std::uint64_t cost) {
  if (!accepting_) {
    ++rejected_;
    throw OverloadedError("the executor is shutting down");
  }
  if (cost > max_queued_work_ - queued_work_) {
    ++rejected_;
    throw OverloadedError(
        "queued work would pass max_queued_work=" + std::to_string(max_queued_work_) + " (queued " +
        std::to_string(queued_work_) + ", job " + std::to_string(cost) + ")");
  }
}

Executor::Reservation Executor::reserve(std::uint64_t cost) {
  std::lock_guard lock(mu_);
  admit_locked(cost);
  queued_work_ += cost;
  return Reservation(this, cost);
}

Executor::Reservation::~Reservation() {
  if (executor_ == nullptr) return;
  std::lock_guard lock(executor_->mu_);
  executor_->queued_work_ -= cost_;
}

std::shared_ptr<Job> Executor::submit(JobSpec spec) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mu_);
    admit_locked(spec.cost);
    job = std::make_shared<Job>(next_id_++, std::move(spec));
    job->submitted_at_ = Clock::now();
    ++submitted_;
    ++active_jobs_;
    active_.insert(job.get());
    queued_work_ += job->spec_.cost;
    if (job->spec_.chunks > 0) {
      job->runnable_listed_ = true;
      runnable_.push_back(job);
    }
  }
  if (job->spec_.chunks == 0) {
    job->started_at_ = job->submitted_at_;
    finish(job);
  } else if (job->spec_.chunks == 1) {
    work_available_.notify_one();
  } else {
    work_available_.notify_all();
  }
  return job;
}

void Executor::run(std::size_t chunks, ChunkFunction run_chunk, std::uint64_t cost) {
  JobSpec spec;
  spec.chunks = chunks;
  spec.run_chunk = std::move(run_chunk);
  spec.cost = cost;
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
        try {
          job.spec_.run_chunk(*claim.chunk, context);
          again = context.run_again_requested() && !context.stop_requested();
        } catch (...) {
          if (!job.failed_.exchange(true, std::memory_order_acq_rel)) {
            job.error_ = std::current_exception();
          }
        }
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
  // acq_rel: the last finisher sees every chunk's writes (results, error_) before finishing.
  if (job->chunks_done_.fetch_add(count, std::memory_order_acq_rel) + count == job->stage_chunks_ &&
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
    if (plan.cost && *plan.cost < job->spec_.cost) {
      queued_work_ -= job->spec_.cost - *plan.cost;
      job->spec_.cost = *plan.cost;
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
  if (plan.chunks == 1) {
    work_available_.notify_one();
  } else {
    work_available_.notify_all();
  }
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
    queued_work_ -= job->spec_.cost;
    switch (status) {
      case JobStatus::kSucceeded:
        ++succeeded_;
        break;
      case JobStatus::kFailed:
        ++failed_;
        break;
      case JobStatus::kCancelled:
        ++cancelled_;
        break;
      case JobStatus::kDeadlineExceeded:
        ++deadline_exceeded_;
        break;
      case JobStatus::kQueued:
      case JobStatus::kRunning:
        break;
    }
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
  s.busy_workers = busy_workers_.load(std::memory_order_relaxed);
  s.active_jobs = active_jobs_;
  s.queued_work = queued_work_;
  s.max_queued_work = max_queued_work_;
  s.submitted = submitted_;
  s.rejected = rejected_;
  s.succeeded = succeeded_;
  s.failed = failed_;
  s.cancelled = cancelled_;
  s.deadline_exceeded = deadline_exceeded_;
  return s;
}

void run_inline(const JobSpec& spec) {
  std::size_t stage = 0;
  for (std::size_t chunks = spec.chunks; chunks > 0; ++stage) {
    for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
      for (;;) {
        ChunkContext context(stage);
        spec.run_chunk(chunk, context);
        if (!context.run_again_requested()) break;
      }
    }
    chunks = spec.next_stage ? spec.next_stage(stage).chunks : 0;
  }
}

}  // namespace gilfree::runtime
