// Executor: the process-wide pool of native workers that runs jobs cut into chunks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "runtime/kernel_model.hpp"

namespace gilfree::runtime {

using Clock = std::chrono::steady_clock;

class Job;

// Handed to every run of a chunk.
class ChunkContext {
 public:
  explicit ChunkContext(Job& job, std::size_t stage = 0) noexcept : job_(&job), stage_(stage) {}
  // A context outside any job (work run inline on the calling thread): never asked to stop.
  explicit ChunkContext(std::size_t stage = 0) noexcept : stage_(stage) {}

  // The stage this chunk belongs to (0 for a job of one stage).
  [[nodiscard]] std::size_t stage() const noexcept { return stage_; }

  // True once the job is cancelled or its deadline has passed (and records which on the job). A
  // chunk may poll it and return early; the job then ends as cancelled or past its deadline,
  // never as succeeded.
  [[nodiscard]] bool stop_requested() const noexcept;

  // Asks for this chunk to be run again later: it did one slice of its work and keeps its own
  // progress. Between two slices the workers serve the other jobs in turn, so a chunk of any
  // length never holds a worker for more than a slice.
  void run_again() noexcept { run_again_ = true; }
  [[nodiscard]] bool run_again_requested() const noexcept { return run_again_; }

  // Why the code run with this context failed, recorded by it before it returns (the C boundary
  // of kernels from other modules reports failures this way rather than by throwing across it).
  struct Failure {
    int kind = 0;
    std::string message;
    std::int64_t index = -1;
  };
  void fail(Failure failure) { failure_ = std::move(failure); }
  [[nodiscard]] const std::optional<Failure>& failure() const noexcept { return failure_; }

 private:
  Job* job_ = nullptr;
  std::size_t stage_ = 0;
  bool run_again_ = false;
  std::optional<Failure> failure_;
};

using ChunkFunction = std::function<void(std::size_t chunk, ChunkContext& context)>;

// Where a finished job is reported. Called on a worker thread (or the thread that retired the job)
// exactly once per job, after the job's status is final; must not block or throw.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void job_finished(const std::shared_ptr<Job>& job) noexcept = 0;
};

// What comes after a stage of a job: `chunks` more (0: the job is done), and the whole job's
// declared cost as now better known (none: unchanged; a larger value than the current one is
// ignored, so that a job never takes more of the queue than it was admitted with). The job's
// measured CPU time is compared with the final declaration.
struct StagePlan {
  std::size_t chunks = 0;
  std::optional<double> cost_s;
};

// Called once every chunk of stage `finished` has run (not when the job failed or was stopped),
// on the worker that completed the last one; plans the next stage. Should be quick: the work
// belongs in chunks. An exception fails the job.
using NextStageFunction = std::function<StagePlan(std::size_t finished)>;

enum class JobStatus : std::uint8_t {
  kQueued,            // admitted, no chunk started
  kRunning,           // at least one chunk started
  kSucceeded,         // every chunk ran
  kFailed,            // a chunk threw; error() holds the exception
  kCancelled,         // cancel() was called before the last chunk was claimed
  kDeadlineExceeded,  // the deadline passed before the last chunk was claimed
};

// A job runs in stages, each a set of chunks run in parallel; a stage starts once the one before
// has finished. Most jobs have one stage; `next_stage` adds more as the work unfolds (a request
// body parsed on one worker, then its numbers processed on all of them).
struct JobSpec {
  std::size_t chunks = 0;        // of the first stage
  ChunkFunction run_chunk;       // runs chunk i of context.stage(); kept until done
  NextStageFunction next_stage;  // optional: no stage after the first
  // The job's CPU time on one core, in seconds, as its kernel declares it. Admission counts it
  // corrected by the kernel's model (KernelModel::estimate_s).
  double cost_s = 0;
  KernelModel* kernel = nullptr;              // nullptr: unnamed_kernel()
  std::optional<Clock::time_point> deadline;  // checked before each chunk is claimed
  std::shared_ptr<CompletionSink> sink;       // optional
};

// One admitted unit of work. Workers claim its chunks in order; cancellation and the deadline are
// checked between chunks, so a cancelled job stops within one chunk's time per worker.
class Job {
 public:
  Job(std::uint64_t id, JobSpec spec);

  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

  // Asks the workers to drop the chunks not yet started. No effect once the job is finished.
  void cancel() noexcept { cancel_requested_.store(true, std::memory_order_release); }
  [[nodiscard]] bool cancel_requested() const noexcept {
    return cancel_requested_.load(std::memory_order_acquire);
  }

  [[nodiscard]] bool finished() const noexcept;
  // Blocks until the job is finished.
  void wait() const;
  // Blocks until finished or `timeout` passed; true if finished.
  [[nodiscard]] bool wait_for(std::chrono::nanoseconds timeout) const;

  // Valid once finished().
  [[nodiscard]] JobStatus status() const noexcept;
  [[nodiscard]] std::exception_ptr error() const noexcept;
  // Throws the job's outcome as an exception unless it succeeded: the chunk's own exception,
  // CancelledError or DeadlineExceededError.
  void rethrow_if_unsuccessful() const;

  // Timings: admitted, first chunk started (or retired), finished. Valid once finished().
  [[nodiscard]] Clock::time_point submitted_at() const noexcept { return submitted_at_; }
  [[nodiscard]] Clock::time_point started_at() const noexcept { return started_at_; }
  [[nodiscard]] Clock::time_point finished_at() const noexcept { return finished_at_; }

  [[nodiscard]] KernelModel& kernel() const noexcept { return *spec_.kernel; }
  // True for a job run at once on the calling thread (Executor::run_inline).
  [[nodiscard]] bool ran_inline() const noexcept { return inline_; }
  // CPU time its chunks used so far (measured per chunk on the worker's thread clock; the wall
  // clock for a job run inline), and what admission estimated it at. Final once finished().
  [[nodiscard]] double cpu_s() const noexcept {
    return static_cast<double>(cpu_ns_.load(std::memory_order_relaxed)) * 1e-9;
  }
  [[nodiscard]] double estimated_cpu_s() const noexcept;

 private:
  friend class Executor;
  friend class ChunkContext;

  const std::uint64_t id_;
  JobSpec spec_;
  std::atomic<bool> cancel_requested_{false};

  // Guarded by the executor's mutex (stage_chunks_ is also read, without it, by the workers that
  // claimed a chunk of the stage, before they count it done: the claim ordered them after its
  // last write, and the next write waits for their count).
  std::size_t stage_ = 0;
  std::size_t stage_chunks_ = 0;
  std::size_t next_chunk_ = 0;
  std::vector<std::size_t> again_;  // chunks that asked to run again, oldest first
  std::size_t again_front_ = 0;     // next of again_ to hand out
  bool runnable_listed_ = false;    // in Executor::runnable_
  bool started_ = false;
  JobStatus retire_reason_ = JobStatus::kSucceeded;  // why unclaimed chunks were dropped

  std::atomic<std::size_t> chunks_done_{0};  // of this stage: run, skipped or dropped
  // Why a chunk stopped early (kCancelled or kDeadlineExceeded), kSucceeded if none did.
  std::atomic<JobStatus> stopped_early_{JobStatus::kSucceeded};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;  // written once, by the chunk that sets failed_
  std::atomic<std::uint64_t> cpu_ns_{0};
  double admitted_correction_ = 1.0;  // the kernel's correction when it was admitted
  bool inline_ = false;

  Clock::time_point submitted_at_{};
  Clock::time_point started_at_{};
  Clock::time_point finished_at_{};

  mutable std::mutex done_mu_;
  mutable std::condition_variable done_cv_;
  bool done_ = false;  // guarded by done_mu_
  JobStatus status_ = JobStatus::kQueued;
};

struct ExecutorStats : Outcomes {
  unsigned threads = 0;
  unsigned pinned_threads = 0;  // workers restricted to one CPU each
  unsigned busy_workers = 0;
  std::size_t active_jobs = 0;  // admitted and not finished
  double queued_cpu_s = 0;      // estimated CPU seconds admitted and not finished
  double max_queued_cpu_s = 0;
  std::uint64_t submitted = 0;    // jobs admitted to the workers
  std::uint64_t inline_runs = 0;  // jobs run at once on the calling thread
  std::uint64_t rejected = 0;
};

// A fixed set of worker threads created once. Idle workers take chunks from the active jobs in
// turn (round robin), so a small job that arrives behind a large one starts after about one chunk
// rather than after the large job. Admission is bounded by the estimated CPU seconds of the work
// admitted and not yet finished, one unit for every kernel: each job's declared cost corrected by
// its kernel's model, re-evaluated at every admission as the models learn. A job is never refused
// by an executor with nothing admitted, however large, so a wrong estimate cannot refuse an idle
// machine.
class Executor {
 public:
  static constexpr double kUnlimited = std::numeric_limits<double>::infinity();

  // `pin_cpus`, when not empty, are the CPUs the workers are pinned to, worker i to
  // pin_cpus[i % size] (a CPU the system refuses leaves its worker unpinned).
  explicit Executor(unsigned threads, double max_queued_cpu_s = kUnlimited,
                    const std::vector<unsigned>& pin_cpus = {});
  ~Executor();  // shutdown(0): cancels what is left, joins the workers
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  [[nodiscard]] unsigned threads() const noexcept { return static_cast<unsigned>(workers_.size()); }

  // Admits a job, or throws OverloadedError (queued work would pass the limit, or the executor
  // is stopping). A job with no chunks finishes at once.
  std::shared_ptr<Job> submit(JobSpec spec);

  // Runs a job's stages at once on the calling thread, chunk after chunk and slice after slice,
  // admitted like a job for as long as it runs (OverloadedError as submit()): for work too small
  // to be worth a worker's round trip. No deadline, no cancellation; the job is finished when it
  // returns (its failure, if any, in its status and error(), as for any job). Its sink is not
  // called.
  std::shared_ptr<Job> run_inline(JobSpec spec);

  // Submits and waits: the job's own exception, CancelledError or DeadlineExceededError is
  // rethrown here. Safe to call from several threads at once.
  void run(std::size_t chunks, ChunkFunction run_chunk, double cost_s = 0);

  // Stops admission, lets admitted jobs finish for up to `grace`, cancels the rest, waits for
  // the chunks in flight and joins the workers. Idempotent.
  void shutdown(std::chrono::nanoseconds grace);

  [[nodiscard]] ExecutorStats stats() const;

 private:
  // Throws OverloadedError (counting a rejection) unless a job of `kernel` declared at `cost_s`
  // fits. Caller holds mu_.
  void admit_locked(KernelModel& kernel, double cost_s);
  // Admits `spec` as a new active job (counted as queued work until it finishes). Caller holds
  // mu_.
  std::shared_ptr<Job> admit_job_locked(JobSpec spec);
  // Queued work: declared seconds of each kernel's admitted jobs, as each kernel's model now
  // estimates them. Caller holds mu_.
  [[nodiscard]] double queued_cpu_s_locked() const noexcept;
  void add_queued_locked(KernelModel& kernel, double cost_s);
  void lower_queued_locked(KernelModel& kernel, double by_s) noexcept;
  void remove_queued_locked(KernelModel& kernel, double cost_s) noexcept;
  // Counts a finished job (its executor's counters and its kernel's). Caller holds mu_.
  void count_finished_locked(const Job& job, JobStatus status);
  void worker_loop();
  // Claims the next chunk of some active job (a chunk to run again first), or retires a
  // cancelled/expired job (returning it with no chunk to run). Caller holds mu_.
  struct Claim {
    std::shared_ptr<Job> job;
    std::optional<std::size_t> chunk;  // none: the job was retired
    std::size_t count = 0;             // chunks this claim accounts for
    std::size_t stage = 0;
  };
  Claim claim_locked(Clock::time_point now);
  void complete_chunks(const std::shared_ptr<Job>& job, std::size_t count);
  // After the last chunk of a stage: lists the job's next stage, if it has one. False when the job
  // is done (it then must be finished).
  bool start_next_stage(const std::shared_ptr<Job>& job);
  void requeue_chunk(const std::shared_ptr<Job>& job, std::size_t chunk);
  void finish(const std::shared_ptr<Job>& job);
  // Wakes `wanted` waiting workers (at least one; all of them for as many as there are).
  void wake_workers(std::size_t wanted);

  mutable std::mutex mu_;
  std::condition_variable work_available_;
  std::condition_variable job_finished_;        // for shutdown's grace period
  std::vector<std::shared_ptr<Job>> runnable_;  // jobs with chunks not yet claimed
  std::unordered_set<Job*> active_;             // admitted, not finished (for shutdown)
  std::size_t cursor_ = 0;                      // round-robin position in runnable_
  std::size_t active_jobs_ = 0;                 // admitted, not finished (inline ones too)
  struct Queued {
    KernelModel* kernel;
    double declared_s;  // of its admitted jobs not finished
    std::size_t jobs;   // when it drops to 0 the entry goes, so no rounding residue stays
  };
  std::vector<Queued> queued_;
  const double max_queued_cpu_s_;
  std::uint64_t next_id_ = 1;
  bool accepting_ = true;
  bool stopping_ = false;  // workers exit once runnable_ is empty
  std::atomic<unsigned> busy_workers_{0};
  std::uint64_t submitted_ = 0, inline_runs_ = 0, rejected_ = 0;
  Outcomes outcomes_;
  std::mutex join_mu_;
  std::vector<std::thread> workers_;
  unsigned pinned_threads_ = 0;
};

// CPU time the calling thread has used, in nanoseconds (its thread clock).
[[nodiscard]] std::uint64_t thread_cpu_ns() noexcept;

}  // namespace gilfree::runtime
