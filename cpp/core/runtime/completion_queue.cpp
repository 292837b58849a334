// CompletionQueue over an eventfd (Linux) or a non-blocking pipe (elsewhere).
#include "runtime/completion_queue.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

namespace gilfree::runtime {

CompletionQueue::CompletionQueue() {
#if defined(__linux__)
  read_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (read_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  write_fd_ = read_fd_;
#else
  int fds[2];
  if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  for (int fd : fds) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
#endif
}

CompletionQueue::~CompletionQueue() {
  if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
}

void CompletionQueue::signal() noexcept {
#if defined(__linux__)
  const std::uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is woken already.
  [[maybe_unused]] const auto written = ::write(write_fd_, &one, sizeof(one));
#else
  const char byte = 1;
  [[maybe_unused]] const auto written = ::write(write_fd_, &byte, 1);  // full pipe: woken already
#endif
}

void CompletionQueue::job_finished(const std::shared_ptr<Job>& job) noexcept {
  bool was_empty = false;
  {
    std::lock_guard lock(mu_);
    was_empty = finished_.empty();
    try {
      finished_.push_back(job->id());
    } catch (...) {
      // Out of memory: nothing sane to do from a worker; the loop would never hear of this job.
      std::terminate();
    }
  }
  // Only the first completion since the last drain needs to wake the loop.
  if (was_empty) signal();
}

std::vector<std::uint64_t> CompletionQueue::drain() {
  // Read first, then take the list: a completion appended after the read finds the list empty
  // and signals again, so none is ever left behind without readiness.
#if defined(__linux__)
  std::uint64_t count = 0;
  [[maybe_unused]] const auto got = ::read(read_fd_, &count, sizeof(count));
#else
  char buffer[256];
  while (::read(read_fd_, buffer, sizeof(buffer)) > 0) {
  }
#endif
  std::vector<std::uint64_t> out;
  std::lock_guard lock(mu_);
  out.swap(finished_);
  return out;
}

}  // namespace gilfree::runtime
