// kernelpkg's jobs: entropies in sliced chunks, trigram search in two stages, failures on demand.
#include "jobs.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <new>
#include <stdexcept>

namespace kernelpkg {

std::atomic<std::int64_t>& live_jobs() noexcept {
  static std::atomic<std::int64_t> count{0};
  return count;
}

double entropy_bits(std::string_view text) noexcept {
  if (text.empty()) return 0.0;
  std::array<std::uint32_t, 256> counts{};
  for (const char c : text) ++counts[static_cast<unsigned char>(c)];
  const double n = static_cast<double>(text.size());
  double bits = 0.0;
  for (const std::uint32_t count : counts) {
    if (count == 0) continue;
    const double p = static_cast<double>(count) / n;
    bits -= p * std::log2(p);
  }
  return bits;
}

namespace {
// Byte-rounds one run of a chunk does before it yields its worker (about 100 us).
constexpr std::uint64_t kSliceByteRounds = 100'000;
}  // namespace

Entropy::Entropy(std::vector<std::string> words, std::uint64_t rounds, std::span<double> out,
                 double declared_scale)
    : words_(std::move(words)),
      rounds_(std::max<std::uint64_t>(rounds, 1)),
      declared_scale_(declared_scale) {
  for (const auto& word : words_) bytes_ += word.size();
  if (out.empty() && !words_.empty()) {
    own_.assign(words_.size(), 0.0);
    out_ = own_;
  } else {
    out_ = out;
  }
  if (out_.size() != words_.size()) {
    throw gilfree::InvalidInput("out has room for " + std::to_string(out_.size()) +
                                " entropies, not " + std::to_string(words_.size()));
  }
  progress_.assign(chunks(), Progress{});
}

std::size_t Entropy::chunks() const noexcept {
  return std::max<std::size_t>(1, (words_.size() + kWordsPerChunk - 1) / kWordsPerChunk);
}

double Entropy::cost_s() const noexcept {
  return static_cast<double>(bytes_ + words_.size()) * static_cast<double>(rounds_) *
         kSecondsPerByteRound * declared_scale_;
}

void Entropy::run(std::size_t chunk, gilfree::Chunk& context) {
  Progress& at = progress_[chunk];
  const std::size_t end = std::min(words_.size(), (chunk + 1) * kWordsPerChunk);
  if (!at.started) {
    at = Progress{chunk * kWordsPerChunk, 0, true};
  }
  std::uint64_t budget = kSliceByteRounds;
  bool progressed = false;
  for (; at.word < end; ++at.word, at.round = 0) {
    const std::string& word = words_[at.word];
    const std::uint64_t cost = word.size() + 1;
    for (; at.round < rounds_; ++at.round) {
      if (budget < cost && progressed) {
        context.run_again();  // a slice done: the other jobs take their turn
        return;
      }
      budget = budget < cost ? 0 : budget - cost;
      progressed = true;
      // Each round recomputes the entropy: the barrier keeps the compiler from hoisting it.
      __asm__ __volatile__("" ::: "memory");
      out_[at.word] = entropy_bits(word);
      if ((at.round & 1023U) == 0 && context.stop_requested()) return;
    }
  }
}

std::vector<std::uint32_t> trigrams_of(std::string_view text) {
  std::vector<std::uint32_t> out;
  if (text.size() < 3) return out;
  out.reserve(text.size() - 2);
  for (std::size_t i = 0; i + 3 <= text.size(); ++i) {
    out.push_back(static_cast<std::uint32_t>(static_cast<unsigned char>(text[i])) << 16 |
                  static_cast<std::uint32_t>(static_cast<unsigned char>(text[i + 1])) << 8 |
                  static_cast<std::uint32_t>(static_cast<unsigned char>(text[i + 2])));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TrigramIndex::TrigramIndex(const std::vector<std::string>& documents) {
  documents_.reserve(documents.size());
  for (const auto& document : documents) {
    documents_.push_back(trigrams_of(document));
    trigrams_ += documents_.back().size();
  }
}

namespace {

double jaccard(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
  if (a.empty() && b.empty()) return 0.0;
  std::size_t common = 0;
  for (std::size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

// Better first: higher score, then the earlier document.
bool better(const Hit& x, const Hit& y) {
  return x.score > y.score || (x.score == y.score && x.document < y.document);
}

void keep_best(std::vector<Hit>& hits, std::size_t k) {
  const auto middle = hits.begin() + static_cast<std::ptrdiff_t>(std::min(k, hits.size()));
  std::partial_sort(hits.begin(), middle, hits.end(), better);
  hits.erase(middle, hits.end());
}

}  // namespace

Search::Search(gilfree::Shared<TrigramIndex> index, std::string_view query, std::size_t k)
    : index_(std::move(index)), query_(trigrams_of(query)), k_(k) {
  if (!index_) throw gilfree::InvalidInput("search needs an index");
  if (k_ == 0) throw gilfree::InvalidInput("k must be at least 1");
  partial_.resize(
      std::max<std::size_t>(1, (index_->size() + kDocumentsPerChunk - 1) / kDocumentsPerChunk));
}

double Search::cost_s() const noexcept {
  // A couple of nanoseconds a trigram compared, every document against the query.
  return 2e-9 * static_cast<double>(index_->trigrams() + index_->size() * query_.size());
}

void Search::run(std::size_t chunk, gilfree::Chunk& context) {
  if (context.stage() == 0) {
    score(chunk);
  } else {
    merge();
  }
}

void Search::score(std::size_t chunk) {
  const std::size_t begin = chunk * kDocumentsPerChunk;
  const std::size_t end = std::min(index_->size(), begin + kDocumentsPerChunk);
  std::vector<Hit>& mine = partial_[chunk];
  for (std::size_t d = begin; d < end; ++d) {
    mine.push_back(Hit{d, jaccard(query_, index_->document(d))});
  }
  keep_best(mine, k_);
}

gilfree::Stage Search::next_stage(std::size_t finished) {
  if (finished == 0) return gilfree::Stage{1, std::nullopt};  // one chunk merges the parts
  return gilfree::Stage{};
}

void Search::merge() {
  for (auto& part : partial_) hits_.insert(hits_.end(), part.begin(), part.end());
  keep_best(hits_, k_);
}

void SumSquares::run(std::size_t, gilfree::Chunk&) noexcept {
  // Magnitudes through unsigned negation: well defined even for INT64_MIN.
  const auto magnitude = [](std::int64_t v) {
    return v < 0 ? 0U - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  };
  const std::uint64_t a = magnitude(a_);
  const std::uint64_t b = magnitude(b_);
  sum_ = static_cast<unsigned __int128>(a) * a + static_cast<unsigned __int128>(b) * b;
}

std::string SumSquares::decimal() const {
  if (sum_ == 0) return "0";
  std::string digits;
  for (unsigned __int128 v = sum_; v > 0; v /= 10) {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
  }
  return digits;
}

void Explode::run(std::size_t chunk, gilfree::Chunk&) {
  if (chunk != 1) return;
  if (kind_ == "runtime") throw std::runtime_error(message_);
  if (kind_ == "invalid") throw gilfree::InvalidInput(message_, 3);
  if (kind_ == "memory") throw std::bad_alloc();
  throw 42;  // not a std::exception at all
}

}  // namespace kernelpkg
