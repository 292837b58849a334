// CompletionQueue: finished jobs handed to an event loop through a file descriptor it can watch.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/executor.hpp"

namespace gilfree::runtime {

// A CompletionSink for one event loop. Workers append the ids of finished jobs and make fd()
// readable (an eventfd where the kernel has one, else a pipe); the loop thread watches fd() and
// calls drain(). A worker never waits on the loop and never runs the loop's code. Jobs hold it
// through shared_from_this(): a holder that owned a Python reference would drop it on a worker,
// without the GIL.
class CompletionQueue : public CompletionSink,
                        public std::enable_shared_from_this<CompletionQueue> {
 public:
  CompletionQueue();
  ~CompletionQueue() override;
  CompletionQueue(const CompletionQueue&) = delete;
  CompletionQueue& operator=(const CompletionQueue&) = delete;

  // Readable while finished jobs wait to be drained.
  [[nodiscard]] int fd() const noexcept { return read_fd_; }

  void job_finished(const std::shared_ptr<Job>& job) noexcept override;

  // Clears the descriptor's readiness, then returns (and forgets) the ids of the jobs finished
  // since the last drain, in the order they finished.
  std::vector<std::uint64_t> drain();

 private:
  void signal() noexcept;

  int read_fd_ = -1;
  int write_fd_ = -1;  // the same descriptor as read_fd_ for an eventfd
  std::mutex mu_;
  std::vector<std::uint64_t> finished_;
};

}  // namespace gilfree::runtime
