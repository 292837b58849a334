// Executor: the process-wide pool of native workers that runs jobs cut into chunks.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace gilfree::runtime {

// A fixed set of worker threads created once. A job is a count of chunks and a function that runs
// one chunk; idle workers take chunks from the active jobs in turn (round robin), so a small job
// that arrives behind a large one starts after about one chunk rather than after the large job.
class Executor {
 public:
  explicit Executor(unsigned threads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  [[nodiscard]] unsigned threads() const noexcept { return static_cast<unsigned>(workers_.size()); }

  // Runs run_chunk(i) for every i in [0, chunks) on the workers and blocks until all have
  // finished. If a chunk throws, the job's remaining chunks are skipped and the first exception
  // is rethrown here. Safe to call from several threads at once.
  void run(std::size_t chunks, const std::function<void(std::size_t)>& run_chunk);

 private:
  struct Job;
  void worker_loop();
  static void finish_chunk(Job& job);

  std::mutex mu_;
  std::condition_variable work_available_;
  std::vector<std::shared_ptr<Job>> active_;  // jobs with chunks not yet claimed
  std::size_t cursor_ = 0;                    // round-robin position in active_
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace gilfree::runtime
