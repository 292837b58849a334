// Executor: worker threads taking chunks from the active jobs in turn.
#include "runtime/executor.hpp"

#include <atomic>
#include <exception>
#include <stdexcept>

namespace gilfree::runtime {

struct Executor::Job {
  Job(std::size_t chunk_count, const std::function<void(std::size_t)>& fn)
      : chunks(chunk_count), run_chunk(fn) {}

  const std::size_t chunks;
  const std::function<void(std::size_t)>& run_chunk;  // owned by the caller blocked in run()
  std::size_t next = 0;                               // next chunk to claim; guarded by mu_
  std::atomic<std::size_t> finished{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;  // written once, by the chunk that sets `failed`

  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
};

Executor::Executor(unsigned threads) {
  if (threads == 0) throw std::invalid_argument("Executor needs at least one thread");
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

Executor::~Executor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_available_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void Executor::run(std::size_t chunks, const std::function<void(std::size_t)>& run_chunk) {
  if (chunks == 0) return;
  auto job = std::make_shared<Job>(chunks, run_chunk);
  {
    std::lock_guard lock(mu_);
    if (stopping_) throw std::logic_error("Executor is shutting down");
    active_.push_back(job);
  }
  if (chunks == 1) {
    work_available_.notify_one();
  } else {
    work_available_.notify_all();
  }
  {
    std::unique_lock lock(job->done_mu);
    job->done_cv.wait(lock, [&] { return job->done; });
  }
  if (job->error) std::rethrow_exception(job->error);
}

void Executor::finish_chunk(Job& job) {
  if (job.finished.fetch_add(1, std::memory_order_acq_rel) + 1 == job.chunks) {
    {
      std::lock_guard lock(job.done_mu);
      job.done = true;
    }
    job.done_cv.notify_all();
  }
}

void Executor::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_available_.wait(lock, [this] { return stopping_ || !active_.empty(); });
    if (active_.empty()) return;  // stopping, and nothing left to run

    if (cursor_ >= active_.size()) cursor_ = 0;
    std::shared_ptr<Job> job = active_[cursor_];
    const std::size_t index = job->next++;
    if (job->next == job->chunks) {
      active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(cursor_));
    } else {
      ++cursor_;
    }
    lock.unlock();

    if (!job->failed.load(std::memory_order_acquire)) {
      try {
        job->run_chunk(index);
      } catch (...) {
        if (!job->failed.exchange(true, std::memory_order_acq_rel)) {
          job->error = std::current_exception();
        }
      }
    }
    finish_chunk(*job);
    job.reset();
    lock.lock();
  }
}

}  // namespace gilfree::runtime
