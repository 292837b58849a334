// Errors the core reports to its callers; bindings map them onto gilfree.errors.
#pragma once

#include <gilfree/kernel.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace gilfree {

// The input cannot be processed; `index` names the offending element where there is one. The
// same class kernels of other packages throw (<gilfree/kernel.hpp>).
using InvalidInputError = InvalidInput;

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

// A kernel's code failed: what it reported across the C boundary (<gilfree/abi.h>): its kind
// (GF_ERROR_KERNEL, GF_ERROR_INVALID_INPUT, GF_ERROR_NO_MEMORY), message and element index.
class KernelError : public std::runtime_error {
 public:
  KernelError(int kind, const std::string& message, std::optional<std::size_t> index = {})
      : std::runtime_error(message), kind_(kind), index_(index) {}
  [[nodiscard]] int kind() const noexcept { return kind_; }
  [[nodiscard]] std::optional<std::size_t> index() const noexcept { return index_; }

 private:
  int kind_;
  std::optional<std::size_t> index_;
};

}  // namespace gilfree
