// kernelpkg._native: the package's kernels defined once with <gilfree/python.hpp>, each then
// callable synchronously and awaitable through gilfree.aio, on gilfree's one executor.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <gilfree/python.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "jobs.hpp"

namespace nb = nanobind;

namespace {

using Floats = nb::ndarray<double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

// Entropies as a list of floats.
class EntropyList : public kernelpkg::Entropy {
 public:
  using Entropy::Entropy;
  std::vector<double> result() { return take_result(); }
};

Floats float64_array(nb::handle out) {
  Floats view;
  // No conversion: a converted copy would take the results, not the caller's array.
  if (!nb::try_cast(out, view, /*convert=*/false)) {
    throw nb::type_error("out must be a C-contiguous float64 array");
  }
  return view;
}

// Entropies written into the caller's float64 array, which comes back.
class EntropyInto : public kernelpkg::Entropy {
 public:
  EntropyInto(std::vector<std::string> words, std::uint64_t rounds, const nb::object& out)
      : EntropyInto(std::move(words), rounds, float64_array(out), out) {}
  nb::object result() { return out_; }

 private:
  EntropyInto(std::vector<std::string> words, std::uint64_t rounds, Floats view, nb::object out)
      : Entropy(std::move(words), rounds, std::span<double>(view.data(), view.shape(0))),
        out_(std::move(out)) {}

  nb::object out_;  // the array itself: dropped with the job's state, with the GIL
};

class SumSquaresJob : public kernelpkg::SumSquares {
 public:
  using SumSquares::SumSquares;
  nb::object result() const {
    const std::string digits = decimal();
    return nb::steal(PyLong_FromString(digits.c_str(), nullptr, 10));
  }
};

// The best documents as (index, score) pairs.
class SearchJob : public kernelpkg::Search {
 public:
  using Search::Search;
  std::vector<std::pair<std::size_t, double>> result() const {
    std::vector<std::pair<std::size_t, double>> out;
    for (const auto& hit : hits()) out.emplace_back(hit.document, hit.score);
    return out;
  }
};

}  // namespace

NB_MODULE(_native, m) {
  m.doc() = "kernelpkg's kernels on gilfree's runtime (a test of its public kernel API).";
  gilfree::python::import_runtime();

  nb::class_<kernelpkg::TrigramIndex>(m, "TrigramIndex",
                                      "Documents as trigram sets, shared read-only by searches.")
      .def(nb::new_([](const std::vector<std::string>& documents) {
             nb::gil_scoped_release release;  // built once, maybe large: other threads go on
             return std::make_shared<kernelpkg::TrigramIndex>(documents);
           }),
           nb::arg("documents"))
      .def("__len__", &kernelpkg::TrigramIndex::size);

  gilfree::python::def_kernel(
      m, "entropy", kernelpkg::kEntropy,
      [](std::vector<std::string> words, std::uint64_t rounds) {
        return EntropyList(std::move(words), rounds);
      },
      nb::arg("words"), nb::arg("rounds") = 1,
      "The Shannon entropy of each word's UTF-8 bytes, in bits per byte.");
  gilfree::python::def_kernel(
      m, "entropy_into", kernelpkg::kEntropy,
      [](std::vector<std::string> words, nb::object out, std::uint64_t rounds) {
        return EntropyInto(std::move(words), rounds, out);
      },
      nb::arg("words"), nb::arg("out"), nb::arg("rounds") = 1,
      "entropy, written into a float64 array of one slot per word (which comes back).");
  gilfree::python::def_kernel(
      m, "entropy_underdeclared", kernelpkg::kEntropyUnderdeclared,
      [](std::vector<std::string> words, std::uint64_t rounds) {
        return EntropyList(std::move(words), rounds, {}, 0.1);
      },
      nb::arg("words"), nb::arg("rounds") = 1, "entropy, declaring a tenth of its cost.");
  gilfree::python::def_kernel(
      m, "entropy_overdeclared", kernelpkg::kEntropyOverdeclared,
      [](std::vector<std::string> words, std::uint64_t rounds) {
        return EntropyList(std::move(words), rounds, {}, 10.0);
      },
      nb::arg("words"), nb::arg("rounds") = 1, "entropy, declaring ten times its cost.");
  gilfree::python::def_kernel(
      m, "sum_squares", kernelpkg::kSumSquares,
      [](std::int64_t a, std::int64_t b) { return SumSquaresJob(a, b); }, nb::arg("a"),
      nb::arg("b"), "The exact a*a + b*b of two int64 (as gilfree.sum_squares).");
  gilfree::python::def_kernel(
      m, "search", kernelpkg::kSearch,
      [](std::shared_ptr<const kernelpkg::TrigramIndex> index, const std::string& query,
         std::size_t k) { return SearchJob(std::move(index), query, k); },
      nb::arg("index"), nb::arg("query"), nb::arg("k") = 10,
      "The k documents most like the query (Jaccard similarity of trigrams), best first.");
  gilfree::python::def_kernel(
      m, "explode", kernelpkg::kMisbehaving,
      [](std::string kind, std::string message) {
        return kernelpkg::Explode(std::move(kind), std::move(message));
      },
      nb::arg("kind"), nb::arg("message"), "Fails in its second chunk, as `kind` says.");
  gilfree::python::def_kernel(
      m, "bad_chunks", kernelpkg::kMisbehaving,
      [](std::size_t chunks) { return kernelpkg::BadChunks(chunks); }, nb::arg("chunks"),
      "Asks the runtime for that many chunks.");
  // Kernels without argument names, counted under "kernelpkg._native.<name>".
  gilfree::python::def_kernel(m, "positional_entropy", [](std::string word) {
    return EntropyList(std::vector<std::string>{std::move(word)}, 1);
  });

  m.def(
      "live_jobs", [] { return kernelpkg::live_jobs().load(); },
      "Job states of this module alive now (the runtime releases each once it is done).");
  m.def(
      "compiler",
      [] {
#if defined(__clang__)
        return std::string("clang ") + __clang_version__;
#else
        return std::string("gcc ") + __VERSION__;
#endif
      },
      "The compiler this module was built with.");
}
