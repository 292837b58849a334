// Errors the core reports to its callers; bindings map them onto gilfree.errors.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

namespace gilfree {

// The input cannot be processed. `index` names the offending element where there is one.
class InvalidInputError : public std::invalid_argument {
 public:
  explicit InvalidInputError(const std::string& message,
                             std::optional<std::size_t> index = std::nullopt)
      : std::invalid_argument(message), index_(index) {}

  [[nodiscard]] std::optional<std::size_t> index() const noexcept { return index_; }

 private:
  std::optional<std::size_t> index_;
};

}  // namespace gilfree

namespace gilfree {

// The executor refused a job: admitting it would pass the limit on queued work, or it is stopping.
class OverloadedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The job was cancelled before it finished.
class CancelledError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The job's deadline passed before it finished.
class DeadlineExceededError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gilfree

namespace gilfree {

// A job failed for a reason of its own (a chunk threw something unexpected).
class NativeJobError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gilfree
