// gilfree's own kernels as a kernel module, through the public API (<gilfree/python.hpp>) as a
// user's package would define them: process_numbers over a list or int64 buffers, sum_squares,
// and the choice of SIMD build.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>
#include <gilfree/python.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "buffer.hpp"
#include "convert.hpp"
#include "kernels/process_numbers.hpp"
#include "kernels/sum_squares.hpp"
#include "ops.hpp"

namespace nb = nanobind;

namespace gilfree::bindings {
namespace {

// process_numbers over a list: converted once with the GIL, processed in place, a new list out.
class ProcessNumbersList {
 public:
  ProcessNumbersList(std::vector<std::int64_t> values, std::uint64_t iterations)
      : values_(std::move(values)), job_(values_, values_, iterations) {}

  [[nodiscard]] std::size_t chunks() const noexcept { return job_.chunks(); }
  [[nodiscard]] double cost_s() const noexcept { return job_.cost_s(); }
  void run(std::size_t chunk, Chunk& context) { job_.run(chunk, context); }
  nb::object result() { return list_from_int64s(values_); }

 private:
  std::vector<std::int64_t> values_;  // before job_, which reads and writes it in place
  ops::ProcessNumbers job_;
};

// process_numbers between two int64 buffers, read and written in place (no copy); `out` back.
class ProcessNumbersBuffer {
 public:
  ProcessNumbersBuffer(nb::handle numbers, nb::object out, std::uint64_t iterations)
      : in_(numbers, /*writable=*/false),
        out_view_(out, /*writable=*/true),
        out_(std::move(out)),
        job_(checked(in_, out_view_), out_view_.span(), iterations) {}

  [[nodiscard]] std::size_t chunks() const noexcept { return job_.chunks(); }
  [[nodiscard]] double cost_s() const noexcept { return job_.cost_s(); }
  void run(std::size_t chunk, Chunk& context) { job_.run(chunk, context); }
  nb::object result() { return out_; }

 private:
  static std::span<const std::int64_t> checked(const Int64Buffer& in, const Int64Buffer& out) {
    if (in.span().size() != out.span().size()) {
      throw InvalidInputError("output length differs from input length");
    }
    return in.span();
  }

  Int64Buffer in_;  // the views are released with the GIL, when the job's state goes
  Int64Buffer out_view_;
  nb::object out_;
  ops::ProcessNumbers job_;
};

class SumSquaresJob : public ops::SumSquares {
 public:
  using ops::SumSquares::SumSquares;
  nb::object result() const { return int_from_uint128(sum()); }
};

std::vector<std::string> level_names(const std::vector<kernels::SimdLevel>& levels) {
  std::vector<std::string> names;
  for (const auto level : levels) names.emplace_back(kernels::simd_level_name(level));
  return names;
}

}  // namespace

void bind_kernels(nb::module_& m) {
  python::def_kernel(
      m, "process_numbers_list", ops::kProcessNumbers,
      [](nb::list numbers, std::uint64_t iterations) {
        return ProcessNumbersList(int64s_from_list(numbers), iterations);
      },
      nb::arg("numbers"), nb::arg("iterations"),
      "process_numbers over a list of ints; a new list out.");
  python::def_kernel(
      m, "process_numbers_buffer", ops::kProcessNumbers,
      [](nb::handle numbers, nb::object out, std::uint64_t iterations) {
        return std::make_unique<ProcessNumbersBuffer>(numbers, std::move(out), iterations);
      },
      nb::arg("numbers"), nb::arg("out"), nb::arg("iterations"),
      "process_numbers from one int64 buffer into another of the same length; `out` back.");
  python::def_kernel(
      m, "sum_squares", ops::kSumSquares,
      [](std::int64_t a, std::int64_t b) { return SumSquaresJob(a, b); }, nb::arg("a"),
      nb::arg("b"), "The exact a*a + b*b of two int64.");

  m.def(
      "simd_levels", [] { return level_names(kernels::supported_simd_levels()); },
      "Kernel builds this CPU can run, narrowest first.");
  m.def(
      "built_simd_levels", [] { return level_names(kernels::built_simd_levels()); },
      "Kernel builds in this binary, narrowest first.");
  m.def(
      "simd_level",
      [] { return std::string(kernels::simd_level_name(kernels::active_simd_level())); },
      "The kernel build in use.");
  m.def(
      "set_simd_level", [](const std::string& name) { kernels::set_simd_level(name); },
      nb::arg("name"), "Chooses the kernel build (one of simd_levels()).");
}

}  // namespace gilfree::bindings
