// vowels: a kernel module for gilfree's runtime: the share of vowels in each word.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <gilfree/python.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace nb = nanobind;

// One call's work: words in, one share per word out, 1024 words a chunk.
class VowelShare {
 public:
  explicit VowelShare(std::vector<std::string> words)
      : words_(std::move(words)), shares_(words_.size()) {}

  std::size_t chunks() const { return words_.size() / kWordsPerChunk + 1; }
  double cost_s() const { return 5e-9 * static_cast<double>(words_.size()); }  // ~5 ns a word

  // On gilfree's workers, without the GIL; chunks run at once, each on its own words.
  void run(std::size_t chunk, gilfree::Chunk&) {
    const std::size_t end = std::min(words_.size(), (chunk + 1) * kWordsPerChunk);
    for (std::size_t i = chunk * kWordsPerChunk; i < end; ++i) {
      const std::string& word = words_[i];
      const auto vowels = std::count_if(word.begin(), word.end(), [](char c) {
        return std::string_view("aeiouAEIOU").find(c) != std::string_view::npos;
      });
      shares_[i] =
          word.empty() ? 0.0 : static_cast<double>(vowels) / static_cast<double>(word.size());
    }
  }

  // With the GIL, once the job succeeded: nanobind turns it into a list of floats.
  std::vector<double> result() { return std::move(shares_); }

 private:
  static constexpr std::size_t kWordsPerChunk = 1024;
  std::vector<std::string> words_;
  std::vector<double> shares_;
};

NB_MODULE(vowels, m) {
  gilfree::python::import_runtime();
  gilfree::python::def_kernel(
      m, "vowel_share", [](std::vector<std::string> words) { return VowelShare(std::move(words)); },
      nb::arg("words"));
}
