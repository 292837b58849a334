// fuzzy's search, in C++ without Python: a Corpus of strings as code points, and Search, the job
// that finds the k entries most like a query by rapidfuzz's fuzz.ratio (<gilfree/kernel.hpp>).
//
// The score of a query of n code points and an entry of m is rapidfuzz's normalized Indel
// similarity times 100 (fuzz::ratio, and NormalizedMetricBase::_normalized_similarity in
// rapidfuzz-cpp's rapidfuzz/details/distance.hpp; the Indel distance is n + m - 2 LCS):
//
//   norm_dist = n + m > 0 ? double(n + m - 2 * lcs) / double(n + m) : 0.0
//   score     = (1.0 - norm_dist) * 100
//
// The same operations in the same order give the same double, so the scores are rapidfuzz's to
// the bit. The LCS is Hyyro's bit-parallel algorithm ("Bit-parallel LCS-length computation
// revisited", 2004): the query's match masks (bit i of mask(c) set where query[i] == c) are built
// once per search, and each code point of an entry updates a state of ceil(n / 64) words in a few
// instructions. Entries whose length alone keeps them from the best k found so far (their LCS is
// at most min(n, m)) are skipped unread.
#pragma once

#include <gilfree/kernel.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace fuzzy {

// Most results one search returns.
inline constexpr std::size_t kMaxK = 1000;
// Longest query, in code points: a state of at most four 64-bit words.
inline constexpr std::size_t kMaxQueryLength = 256;

// rapidfuzz's fuzz.ratio of strings of n and m code points whose LCS is lcs.
inline double ratio(std::size_t n, std::size_t m, std::size_t lcs) noexcept {
  const std::size_t total = n + m;
  const double norm_dist =
      total != 0 ? static_cast<double>(total - 2 * lcs) / static_cast<double>(total) : 0.0;
  return (1.0 - norm_dist) * 100.0;
}

// Strings as code points, each stored as CPython stores it: in one, two or four bytes a code
// point, the narrowest that holds its largest (most text needs one).
class Corpus {
 public:
  struct Entry {
    std::uint64_t offset;  // into the text of its width
    std::uint32_t length;  // code points
    std::uint32_t width;   // bytes a code point: 1, 2 or 4
  };

  // Appends a string of `length` code points of `width` bytes each (1, 2 or 4), at `data`.
  void append(const void* data, std::size_t length, unsigned width) {
    if (length > std::numeric_limits<std::uint32_t>::max()) {
      throw std::length_error("a corpus entry is at most 2**32 - 1 code points long");
    }
    Entry entry{0, static_cast<std::uint32_t>(length), width};
    switch (width) {
      case 1:
        entry.offset = append_to(latin1_, data, length);
        break;
      case 2:
        entry.offset = append_to(ucs2_, data, length);
        break;
      case 4:
        entry.offset = append_to(ucs4_, data, length);
        break;
      default:
        throw std::invalid_argument("a code point is 1, 2 or 4 bytes wide");
    }
    entries_.push_back(entry);
    code_points_ += length;
    longest_ = std::max(longest_, entry.length);
    if (length < kCountedLengths) {
      ++entries_of_length_[length];
    } else {
      long_code_points_ += length;
    }
  }

  void reserve(std::size_t entries) { entries_.reserve(entries); }
  void shrink_to_fit() {
    latin1_.shrink_to_fit();
    ucs2_.shrink_to_fit();
    ucs4_.shrink_to_fit();
    entries_.shrink_to_fit();
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] const Entry& entry(std::size_t i) const noexcept { return entries_[i]; }
  [[nodiscard]] std::uint64_t code_points() const noexcept { return code_points_; }
  [[nodiscard]] std::uint32_t longest() const noexcept { return longest_; }
  // Entries of each length below kCountedLengths, and the code points of all longer ones.
  static constexpr std::size_t kCountedLengths = 1024;
  [[nodiscard]] std::uint64_t entries_of_length(std::size_t m) const noexcept {
    return entries_of_length_[m];
  }
  [[nodiscard]] std::uint64_t long_code_points() const noexcept { return long_code_points_; }
  [[nodiscard]] std::size_t nbytes() const noexcept {
    return latin1_.size() + 2 * ucs2_.size() + 4 * ucs4_.size() + sizeof(Entry) * size();
  }

  // The code points of an entry of width sizeof(CharT).
  template <class CharT>
  [[nodiscard]] const CharT* text(const Entry& entry) const noexcept {
    if constexpr (sizeof(CharT) == 1) {
      return latin1_.data() + entry.offset;
    } else if constexpr (sizeof(CharT) == 2) {
      return ucs2_.data() + entry.offset;
    } else {
      return ucs4_.data() + entry.offset;
    }
  }

 private:
  template <class CharT>
  static std::uint64_t append_to(std::vector<CharT>& text, const void* data, std::size_t length) {
    const std::uint64_t offset = text.size();
    const auto* first = static_cast<const CharT*>(data);
    text.insert(text.end(), first, first + length);
    return offset;
  }

  std::vector<std::uint8_t> latin1_;
  std::vector<std::uint16_t> ucs2_;
  std::vector<std::uint32_t> ucs4_;
  std::vector<Entry> entries_;
  std::uint64_t code_points_ = 0;
  std::uint32_t longest_ = 0;
  std::array<std::uint64_t, kCountedLengths> entries_of_length_{};
  std::uint64_t long_code_points_ = 0;
};

// The query's match masks: bit i % 64 of word i / 64 of mask(c) is set where query[i] == c.
// Code points below 256 are looked up directly, the query's others in a small hash table.
class MatchMasks {
 public:
  explicit MatchMasks(const std::vector<char32_t>& query)
      : words_(std::max<std::size_t>(1, (query.size() + 63) / 64)),
        latin1_(256 * words_, 0),
        zeros_(words_, 0) {
    std::size_t others = 0;
    for (const char32_t c : query) others += c >= 256 ? 1 : 0;
    const std::size_t slots = std::bit_ceil(std::max<std::size_t>(8, 2 * others));
    shift_ = 32 - std::countr_zero(slots);
    keys_.assign(slots, kFree);
    others_.assign(slots * words_, 0);
    for (std::size_t i = 0; i < query.size(); ++i) {
      const std::uint64_t bit = std::uint64_t{1} << (i % 64);
      if (query[i] < 256) {
        latin1_[query[i] * words_ + i / 64] |= bit;
      } else {
        others_[slot_for(query[i]) * words_ + i / 64] |= bit;
      }
    }
  }

  [[nodiscard]] std::size_t words() const noexcept { return words_; }

  // The W == words() words of mask(c).
  template <std::size_t W, class CharT>
  [[nodiscard]] const std::uint64_t* of(CharT c) const noexcept {
    if constexpr (sizeof(CharT) == 1) {
      return &latin1_[std::size_t{c} * W];
    } else {
      if (c < 256) return &latin1_[std::size_t{c} * W];
      for (std::uint32_t slot = hash(c);; slot = (slot + 1) & last_slot()) {
        if (keys_[slot] == c) return &others_[std::size_t{slot} * W];
        if (keys_[slot] == kFree) return zeros_.data();
      }
    }
  }

 private:
  static constexpr std::uint32_t kFree = 0xFFFFFFFF;  // no code point

  [[nodiscard]] std::uint32_t last_slot() const noexcept {
    return static_cast<std::uint32_t>(keys_.size() - 1);
  }
  [[nodiscard]] std::uint32_t hash(std::uint32_t c) const noexcept {
    return (c * 0x9E3779B1U) >> shift_;  // Fibonacci hashing
  }
  std::size_t slot_for(std::uint32_t c) {
    std::uint32_t slot = hash(c);
    while (keys_[slot] != c && keys_[slot] != kFree) slot = (slot + 1) & last_slot();
    keys_[slot] = c;
    return slot;
  }

  std::size_t words_;
  std::vector<std::uint64_t> latin1_;  // 256 masks of words_ words
  std::vector<std::uint32_t> keys_;    // open addressing, kFree where free
  std::vector<std::uint64_t> others_;  // a mask a slot
  std::vector<std::uint64_t> zeros_;   // the mask of a code point not in the query
  int shift_ = 29;
};

inline int popcount(std::uint64_t x) noexcept {
#if defined(__POPCNT__)
  return std::popcount(x);
#else
  // Built for any x86-64 there is no popcnt instruction, and std::popcount calls into libgcc.
  x -= (x >> 1) & 0x5555555555555555U;
  x = (x & 0x3333333333333333U) + ((x >> 2) & 0x3333333333333333U);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FU;
  return static_cast<int>((x * 0x0101010101010101U) >> 56);
#endif
}

// The LCS of the query (W words of masks) and the text read so far, in Hyyro's state: a bit a
// query position, the LCS its zeros (the bits past the query's end stay ones).
template <std::size_t W>
class Lcs {
 public:
  Lcs() noexcept { state_.fill(~std::uint64_t{0}); }

  template <class CharT>
  void read(const MatchMasks& masks, const CharT* text, std::size_t count) noexcept {
    std::array<std::uint64_t, W> state = state_;
    for (std::size_t j = 0; j < count; ++j) {
      const std::uint64_t* match = masks.of<W>(text[j]);
      std::uint64_t carry = 0;
      for (std::size_t w = 0; w < W; ++w) {
        const std::uint64_t s = state[w];
        const std::uint64_t u = s & match[w];
        // s + u + carry, with its carry out into the next word.
        const std::uint64_t t = s + carry;
        const std::uint64_t sum = t + u;
        carry = static_cast<std::uint64_t>(t < carry) | static_cast<std::uint64_t>(sum < u);
        state[w] = sum | (s - u);
      }
    }
    state_ = state;
  }

  [[nodiscard]] std::size_t length() const noexcept {
    std::size_t zeros = 0;
    for (const std::uint64_t s : state_) zeros += static_cast<std::size_t>(popcount(~s));
    return zeros;
  }

 private:
  std::array<std::uint64_t, W> state_;
};

// One scored entry; better() orders the results: higher score, then the earlier entry.
struct Hit {
  double score;
  std::size_t index;
};

inline bool better(const Hit& x, const Hit& y) noexcept {
  return x.score > y.score || (x.score == y.score && x.index < y.index);
}

// Worse than any hit: what the best k must beat before there are k of them.
inline constexpr Hit kNone{-1.0, std::numeric_limits<std::size_t>::max()};

// The entry lengths whose best possible score (LCS = min(n, m)) is at least `score`. It rises
// with m up to n and falls after, in floating point too (each operation of ratio() is monotonic
// in its operands), so they make an interval.
class Lengths {
 public:
  Lengths(std::size_t n, std::uint32_t longest, double score) noexcept {
    const auto passes = [&](std::uint64_t m) {
      return ratio(n, m, std::min<std::uint64_t>(n, m)) >= score;
    };
    if (!passes(n)) {  // none
      lo_ = 1;
      hi_ = 0;
      return;
    }
    lo_ = 0;  // the least passing m in [0, n]
    for (std::uint64_t high = n; lo_ < high;) {
      const std::uint64_t mid = lo_ + (high - lo_) / 2;
      if (passes(mid)) {
        high = mid;
      } else {
        lo_ = mid + 1;
      }
    }
    hi_ = std::max<std::uint64_t>(n, longest);  // the greatest in [n, longest]
    for (std::uint64_t low = n; low < hi_;) {
      const std::uint64_t mid = low + (hi_ - low + 1) / 2;
      if (passes(mid)) {
        low = mid;
      } else {
        hi_ = mid - 1;
      }
    }
  }

  [[nodiscard]] bool contains(std::uint32_t m) const noexcept { return lo_ <= m && m <= hi_; }
  [[nodiscard]] std::uint64_t lo() const noexcept { return lo_; }
  [[nodiscard]] std::uint64_t hi() const noexcept { return hi_; }  // less than lo(): none

 private:
  std::uint64_t lo_;
  std::uint64_t hi_;
};

// One search, in two stages. The first scores the first chunk of the corpus alone: its best k
// give the floor a first value, and with it the search knows how much of the rest it will read
// (the corpus counts its entries by length) and revises its cost. The second scores the rest, in
// chunks of about kChunk_s each, on every worker at once into the same best k. The k-th score,
// once k are held, is a floor that only rises: an entry below it cannot make the result, and
// entries whose length keeps them below it are skipped unread.
class Search {
 public:
  // InvalidInput unless 1 <= k <= kMaxK and the query is at most kMaxQueryLength code points.
  Search(gilfree::Shared<Corpus> corpus, const std::vector<char32_t>& query, std::size_t k)
      : corpus_(std::move(corpus)), n_(query.size()), k_(k), masks_(checked(query, k)) {
    if (!corpus_) throw gilfree::InvalidInput("search needs a corpus");
    const Lengths every(n_, corpus_->longest(), kNone.score);
    cost_s_ = scan_cost_s(every);
    const std::size_t size = corpus_->size();
    per_chunk_ = entries_per_chunk(cost_s_ / static_cast<double>(std::max<std::size_t>(1, size)));
    first_ = std::min(per_chunk_, size);
    best_.reserve(std::min(k_, corpus_->size()));
  }

  [[nodiscard]] std::size_t chunks() const noexcept { return 1; }  // the first stage's
  [[nodiscard]] double cost_s() const noexcept { return cost_s_; }

  void run(std::size_t chunk, gilfree::Chunk& context) {
    const std::size_t size = corpus_->size();
    const std::size_t begin = context.stage() == 0 ? 0 : first_ + chunk * per_chunk_;
    const std::size_t end = context.stage() == 0 ? first_ : std::min(size, begin + per_chunk_);
    switch (masks_.words()) {
      case 1:
        return scan<1>(begin, end, context);
      case 2:
        return scan<2>(begin, end, context);
      case 3:
        return scan<3>(begin, end, context);
      default:
        return scan<4>(begin, end, context);
    }
  }

  // After the first chunk: the rest, in chunks sized by what the floor leaves to read.
  gilfree::Stage next_stage(std::size_t finished) {
    const std::size_t size = corpus_->size();
    if (finished > 0 || first_ == size) return gilfree::Stage{};
    const Lengths left(n_, corpus_->longest(), floor_.load(std::memory_order_relaxed));
    const double per_entry_s = scan_cost_s(left) / static_cast<double>(size);
    per_chunk_ = entries_per_chunk(per_entry_s);
    const std::size_t rest = size - first_;
    const double first_s = cost_s_ * static_cast<double>(first_) / static_cast<double>(size);
    return gilfree::Stage{(rest + per_chunk_ - 1) / per_chunk_,
                          first_s + per_entry_s * static_cast<double>(rest)};
  }

  // The best k, best first (once every chunk has run).
  [[nodiscard]] std::vector<Hit> hits() const {
    std::vector<Hit> hits = best_;
    std::sort(hits.begin(), hits.end(), better);
    return hits;
  }

 private:
  // A chunk is about this much work: gilfree's workers take turns between jobs after every chunk.
  static constexpr double kChunk_s = 150e-6;
  static constexpr std::size_t kMaxPerChunk = std::size_t{1} << 16;
  // Measured (g++ 12 -O3, one core of a Xeon): an entry looked at, an entry scored, a code point
  // read with one word of state, and each further word (they overlap: less than the first).
  static constexpr double kEntry_s = 0.5e-9;
  static constexpr double kScored_s = 4e-9;
  static constexpr double kCodePoint_s = 1.2e-9;
  static constexpr double kCodePointWord_s = 0.45e-9;
  // Code points scanned between two looks at whether the job was stopped.
  static constexpr std::uint64_t kPollCodePoints = std::uint64_t{1} << 18;

  static const std::vector<char32_t>& checked(const std::vector<char32_t>& query, std::size_t k) {
    if (k < 1 || k > kMaxK) {
      throw gilfree::InvalidInput("k must be between 1 and " + std::to_string(kMaxK) + ", got " +
                                  std::to_string(k));
    }
    if (query.size() > kMaxQueryLength) {
      throw gilfree::InvalidInput("the query is " + std::to_string(query.size()) +
                                  " characters long, at most " + std::to_string(kMaxQueryLength) +
                                  " are allowed");
    }
    return query;
  }

  // Estimated CPU seconds of scanning the whole corpus, reading the entries of `lengths`.
  [[nodiscard]] double scan_cost_s(const Lengths& lengths) const noexcept {
    const Corpus& corpus = *corpus_;
    const double per_code_point =
        kCodePoint_s + kCodePointWord_s * static_cast<double>(masks_.words() - 1);
    double cost = kEntry_s * static_cast<double>(corpus.size());
    const std::uint64_t counted =
        std::min<std::uint64_t>(lengths.hi(), Corpus::kCountedLengths - 1);
    for (std::uint64_t m = lengths.lo(); m <= counted; ++m) {
      const auto entries = static_cast<double>(corpus.entries_of_length(m));
      cost += entries * (kScored_s + per_code_point * static_cast<double>(m));
    }
    if (lengths.hi() >= Corpus::kCountedLengths) {
      cost += per_code_point * static_cast<double>(corpus.long_code_points());
    }
    return cost;
  }

  // Entries in a chunk of entries estimated at `per_entry_s` each.
  [[nodiscard]] static std::size_t entries_per_chunk(double per_entry_s) noexcept {
    const double entries = kChunk_s / std::max(per_entry_s, 1e-12);
    if (entries >= static_cast<double>(kMaxPerChunk)) return kMaxPerChunk;
    return std::max<std::size_t>(1, static_cast<std::size_t>(entries));
  }

  // Keeps `hit` if it is among the best k so far; returns the worst of them once there are k
  // (kNone before).
  Hit offer(const Hit& hit) {
    const std::lock_guard lock(mutex_);
    if (best_.size() == k_) {
      if (!better(hit, best_.front())) return best_.front();
      std::pop_heap(best_.begin(), best_.end(), better);
      best_.back() = hit;
    } else {
      best_.push_back(hit);
    }
    std::push_heap(best_.begin(), best_.end(), better);
    if (best_.size() < k_) return kNone;
    floor_.store(best_.front().score, std::memory_order_relaxed);
    return best_.front();
  }

  // The LCS of the query and text[0, m); none if the job was stopped first (an entry so long
  // that it takes more than a slice of kPollCodePoints looks in between).
  template <std::size_t W, class CharT>
  std::optional<std::size_t> lcs_of(const CharT* text, std::size_t m, gilfree::Chunk& context) {
    Lcs<W> lcs;
    for (std::size_t read = 0; read < m;) {
      const std::size_t count = std::min<std::size_t>(m - read, kPollCodePoints);
      lcs.read(masks_, text + read, count);
      read += count;
      if (read < m && context.stop_requested()) return std::nullopt;
    }
    return lcs.length();
  }

  // Entries [begin, end) scored against the W words of masks.
  template <std::size_t W>
  void scan(std::size_t begin, std::size_t end, gilfree::Chunk& context) {
    const Corpus& corpus = *corpus_;
    // What a hit must beat: the worst of the best k as this chunk last saw it. The best k only
    // get better, so a hit that does not beat it would not make them.
    Hit worst = kNone;
    Lengths lengths(n_, corpus.longest(), worst.score);
    const auto raise = [&](const Hit& seen) {
      if (!better(seen, worst)) return;
      const bool higher = seen.score > worst.score;
      worst = seen;
      if (higher) lengths = Lengths(n_, corpus.longest(), worst.score);
    };

    std::uint64_t unpolled = 0;
    for (std::size_t i = begin; i < end; ++i) {
      // The floor another chunk raised (its index unknown here: a tie may still win).
      raise(Hit{floor_.load(std::memory_order_relaxed), kNone.index});
      const Corpus::Entry& entry = corpus.entry(i);
      if (!lengths.contains(entry.length)) continue;
      std::optional<std::size_t> lcs = 0;  // nothing in common with an empty query: unread
      if (n_ > 0 && entry.width == 1) {
        lcs = lcs_of<W>(corpus.text<std::uint8_t>(entry), entry.length, context);
      } else if (n_ > 0 && entry.width == 2) {
        lcs = lcs_of<W>(corpus.text<std::uint16_t>(entry), entry.length, context);
      } else if (n_ > 0) {
        lcs = lcs_of<W>(corpus.text<std::uint32_t>(entry), entry.length, context);
      }
      if (!lcs) return;  // stopped within an entry
      const Hit hit{ratio(n_, entry.length, *lcs), i};
      if (better(hit, worst)) raise(offer(hit));
      unpolled += entry.length;
      if (unpolled >= kPollCodePoints) {
        if (context.stop_requested()) return;  // cancelled or past its deadline
        unpolled = 0;
      }
    }
  }

  gilfree::Shared<Corpus> corpus_;  // read by every chunk; released with the job
  std::size_t n_;
  std::size_t k_;
  MatchMasks masks_;
  double cost_s_ = 0.0;
  std::size_t first_ = 0;      // entries of the first stage's one chunk
  std::size_t per_chunk_ = 1;  // entries of a chunk (of the second stage: set before it runs)
  std::mutex mutex_;           // guards best_
  std::vector<Hit> best_;      // the best k so far, a heap: the worst of them first
  std::atomic<double> floor_{kNone.score};  // best_'s worst score once it holds k: it only rises
};

}  // namespace fuzzy
