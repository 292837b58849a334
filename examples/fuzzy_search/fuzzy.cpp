// fuzzy: fuzzy search as a kernel module of gilfree's runtime, written against its public kernel
// API only. The search itself is fuzzy.hpp (no Python there); this file makes it a module:
//
//   corpus = fuzzy.Corpus(titles)          # the strings copied once into native memory
//   fuzzy.search(corpus, "cafe mug", k=10)  # [(index, score), ...], best first
//   await gilfree.aio.run(fuzzy.search, corpus, "cafe mug", 10)
#include "fuzzy.hpp"

#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/vector.h>
#include <gilfree/python.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;

namespace {

// Before Python 3.12, a str made through the legacy C API may not have its code points yet.
void ready(PyObject* string) {
#if PY_VERSION_HEX < 0x030C0000
  if (PyUnicode_READY(string) != 0) throw nb::python_error();
#else
  (void)string;  // always ready
#endif
}

// A corpus of the str items of `strings`, in their order: TypeError for any other item. CPython's
// kinds are the corpus's widths (a str is kept in the narrowest that holds its largest code
// point), so each is copied as it is.
std::shared_ptr<fuzzy::Corpus> corpus_of(nb::iterable strings) {
  auto corpus = std::make_shared<fuzzy::Corpus>();
  const Py_ssize_t hint = PyObject_LengthHint(strings.ptr(), 0);
  if (hint < 0) throw nb::python_error();
  corpus->reserve(static_cast<std::size_t>(hint));
  for (nb::handle item : strings) {
    PyObject* string = item.ptr();
    if (!PyUnicode_Check(string)) {
      const std::string type = nb::inst_name(item).c_str();
      throw nb::type_error(
          ("corpus entry " + std::to_string(corpus->size()) + " is " + type + ", not str").c_str());
    }
    ready(string);
    try {
      corpus->append(PyUnicode_DATA(string), static_cast<std::size_t>(PyUnicode_GET_LENGTH(string)),
                     static_cast<unsigned>(PyUnicode_KIND(string)));
    } catch (const std::length_error& e) {
      throw nb::value_error(
          ("corpus entry " + std::to_string(corpus->size()) + ": " + e.what()).c_str());
    }
  }
  corpus->shrink_to_fit();
  return corpus;
}

nb::str entry_str(const fuzzy::Corpus& corpus, std::int64_t index) {
  const auto size = static_cast<std::int64_t>(corpus.size());
  if (index < 0) index += size;
  if (index < 0 || index >= size) throw nb::index_error("corpus index out of range");
  const fuzzy::Corpus::Entry& entry = corpus.entry(static_cast<std::size_t>(index));
  const void* data = entry.width == 1 ? static_cast<const void*>(corpus.text<std::uint8_t>(entry))
                     : entry.width == 2
                         ? static_cast<const void*>(corpus.text<std::uint16_t>(entry))
                         : static_cast<const void*>(corpus.text<std::uint32_t>(entry));
  PyObject* string = PyUnicode_FromKindAndData(static_cast<int>(entry.width), data,
                                               static_cast<Py_ssize_t>(entry.length));
  if (string == nullptr) throw nb::python_error();
  return nb::steal<nb::str>(string);
}

// The code points of a query; InvalidInput past the longest a search takes (before copying it).
std::vector<char32_t> query_of(const nb::str& query) {
  PyObject* string = query.ptr();
  ready(string);
  const auto length = static_cast<std::size_t>(PyUnicode_GET_LENGTH(string));
  if (length > fuzzy::kMaxQueryLength) {
    throw gilfree::InvalidInput("the query is " + std::to_string(length) +
                                " characters long, at most " +
                                std::to_string(fuzzy::kMaxQueryLength) + " are allowed");
  }
  const int kind = PyUnicode_KIND(string);
  const void* data = PyUnicode_DATA(string);
  std::vector<char32_t> code_points(length);
  for (std::size_t i = 0; i < length; ++i) {
    code_points[i] = static_cast<char32_t>(PyUnicode_READ(kind, data, static_cast<Py_ssize_t>(i)));
  }
  return code_points;
}

// The search as a job whose result nanobind turns into a list of (index, score) tuples.
class SearchJob : public fuzzy::Search {
 public:
  using Search::Search;
  [[nodiscard]] std::vector<std::pair<std::size_t, double>> result() const {
    std::vector<std::pair<std::size_t, double>> out;
    for (const fuzzy::Hit& hit : hits()) out.emplace_back(hit.index, hit.score);
    return out;
  }
};

}  // namespace

NB_MODULE(fuzzy, m) {
  gilfree::python::import_runtime();
  m.doc() = "Fuzzy search (rapidfuzz's fuzz.ratio, to the bit) as a kernel of gilfree's runtime.";
  m.attr("MAX_K") = fuzzy::kMaxK;
  m.attr("MAX_QUERY_LENGTH") = fuzzy::kMaxQueryLength;

  nb::class_<fuzzy::Corpus>(m, "Corpus",
                            "Strings held as code points in native memory (1, 2 or 4 bytes a code "
                            "point, as CPython holds each), shared read-only by every search.")
      .def(nb::new_(&corpus_of), nb::arg("strings"),
           "A corpus of the str items of ``strings``, in their order.")
      .def("__len__", &fuzzy::Corpus::size)
      .def("__getitem__", &entry_str, nb::arg("index"), "Entry ``index`` as a str.")
      .def_prop_ro("nbytes", &fuzzy::Corpus::nbytes,
                   "Bytes of native memory the corpus holds (its text and its entries).");

  gilfree::python::def_kernel(
      m, "search",
      [](gilfree::Shared<fuzzy::Corpus> corpus, const nb::str& query, std::int64_t k) {
        if (k < 1 || k > static_cast<std::int64_t>(fuzzy::kMaxK)) {
          throw gilfree::InvalidInput("k must be between 1 and " + std::to_string(fuzzy::kMaxK) +
                                      ", got " + std::to_string(k));
        }
        return std::make_unique<SearchJob>(std::move(corpus), query_of(query),
                                           static_cast<std::size_t>(k));
      },
      nb::arg("corpus"), nb::arg("query"), nb::arg("k") = 10,
      "The k entries of ``corpus`` most like ``query`` by rapidfuzz's ``fuzz.ratio`` (the same "
      "scores, to the bit), best first, ties in corpus order: a list of (index, score). k is 1 "
      "to MAX_K, the query at most MAX_QUERY_LENGTH characters (InvalidInput otherwise).");
}
