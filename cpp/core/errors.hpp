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
