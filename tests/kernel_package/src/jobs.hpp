// The jobs of kernelpkg, a package that uses gilfree's public kernel API as any user's would: pure
// C++ against <gilfree/kernel.hpp>, no Python (module.cpp binds them), so that gilfree's own C++
// tests can run them under ThreadSanitizer too.
//
// - Entropy: strings in, floats out: the Shannon entropy of each string's bytes, in bits per byte,
//   computed `rounds` times over (the same value each time: a dial of work for tests), chunks of
//   words polling for a stop between words.
// - Search: a multi-stage job over a shared read-only TrigramIndex: stage 0 scores every document
//   against the query in parallel chunks, each keeping its own best k; stage 1 merges them.
// - Misbehaving jobs for the tests of failures: Explode throws, BadChunks asks for any count.
#pragma once

#include <gilfree/kernel.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kernelpkg {

inline constexpr gilfree::Kernel kEntropy{"kernelpkg.entropy"};
// Entropy declaring a tenth, and ten times, of its cost: admission must learn the truth.
inline constexpr gilfree::Kernel kEntropyUnderdeclared{"kernelpkg.entropy_underdeclared"};
inline constexpr gilfree::Kernel kEntropyOverdeclared{"kernelpkg.entropy_overdeclared"};
inline constexpr gilfree::Kernel kSumSquares{"kernelpkg.sum_squares"};
inline constexpr gilfree::Kernel kSearch{"kernelpkg.search"};
inline constexpr gilfree::Kernel kMisbehaving{"kernelpkg.misbehaving"};

// Job states alive right now, of every kind here: the tests check that the runtime releases each.
std::atomic<std::int64_t>& live_jobs() noexcept;

class Counted {
 public:
  Counted() noexcept { live_jobs().fetch_add(1); }
  Counted(const Counted&) noexcept { live_jobs().fetch_add(1); }
  Counted(Counted&&) noexcept { live_jobs().fetch_add(1); }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) = default;
  ~Counted() { live_jobs().fetch_sub(1); }
};

// Shannon entropy of the bytes of `text`, in bits per byte (0 for an empty string).
[[nodiscard]] double entropy_bits(std::string_view text) noexcept;

class Entropy : Counted {
 public:
  static constexpr std::size_t kWordsPerChunk = 256;
  // Declared CPU time: a nanosecond a byte and a round (the runtime corrects the rest).
  static constexpr double kSecondsPerByteRound = 1e-9;

  // Entropies written into `out` (a caller's buffer, which must outlive the job) when it is given,
  // else into the job's own vector. `declared_scale` scales the declared cost (1: honest).
  Entropy(std::vector<std::string> words, std::uint64_t rounds, std::span<double> out = {},
          double declared_scale = 1.0);

  [[nodiscard]] std::size_t chunks() const noexcept;
  [[nodiscard]] double cost_s() const noexcept;
  void run(std::size_t chunk, gilfree::Chunk& context);
  [[nodiscard]] std::vector<double> take_result() noexcept { return std::move(own_); }

 private:
  struct Progress {
    std::size_t word = 0;  // the next word of the chunk
    std::uint64_t round = 0;
    bool started = false;
  };

  std::vector<std::string> words_;
  std::uint64_t rounds_;
  double declared_scale_;
  std::size_t bytes_ = 0;
  std::vector<double> own_;
  std::span<double> out_;
  std::vector<Progress> progress_;  // per chunk: a chunk runs in slices (run_again)
};

// Documents as sorted sets of byte trigrams, loaded once and read by every search at once.
class TrigramIndex {
 public:
  explicit TrigramIndex(const std::vector<std::string>& documents);
  [[nodiscard]] std::size_t size() const noexcept { return documents_.size(); }
  [[nodiscard]] std::size_t trigrams() const noexcept { return trigrams_; }
  [[nodiscard]] const std::vector<std::uint32_t>& document(std::size_t i) const noexcept {
    return documents_[i];
  }

 private:
  std::vector<std::vector<std::uint32_t>> documents_;
  std::size_t trigrams_ = 0;
};

// The sorted, distinct byte trigrams of `text` (none for fewer than 3 bytes).
[[nodiscard]] std::vector<std::uint32_t> trigrams_of(std::string_view text);

struct Hit {
  std::size_t document;
  double score;  // Jaccard similarity of the trigram sets
};

class Search : Counted {
 public:
  static constexpr std::size_t kDocumentsPerChunk = 512;

  Search(gilfree::Shared<TrigramIndex> index, std::string_view query, std::size_t k);

  [[nodiscard]] std::size_t chunks() const noexcept { return partial_.size(); }
  [[nodiscard]] double cost_s() const noexcept;
  void run(std::size_t chunk, gilfree::Chunk& context);
  gilfree::Stage next_stage(std::size_t finished);
  // The k best documents, best first, ties by document order.
  [[nodiscard]] const std::vector<Hit>& hits() const noexcept { return hits_; }

 private:
  void score(std::size_t chunk);
  void merge();

  gilfree::Shared<TrigramIndex> index_;  // read by every chunk; released with the job
  std::vector<std::uint32_t> query_;
  std::size_t k_;
  std::vector<std::vector<Hit>> partial_;  // each chunk's own best k
  std::vector<Hit> hits_;
};

// The exact a*a + b*b of two int64, as gilfree's own sum_squares computes it: the trivial kernel
// the benchmarks compare a separately built module's per-call cost on.
class SumSquares : Counted {
 public:
  SumSquares(std::int64_t a, std::int64_t b) noexcept : a_(a), b_(b) {}
  [[nodiscard]] double cost_s() const noexcept { return 20e-9; }
  void run(std::size_t, gilfree::Chunk&) noexcept;
  // Decimal digits of the sum (up to 2^127: wider than any integer nanobind converts).
  [[nodiscard]] std::string decimal() const;

 private:
  std::int64_t a_;
  std::int64_t b_;
  unsigned __int128 sum_ = 0;
};

// Fails in its second chunk with an exception of the given kind ("runtime", "invalid", "memory",
// "other"), carrying `message`.
class Explode : Counted {
 public:
  Explode(std::string kind, std::string message)
      : kind_(std::move(kind)), message_(std::move(message)) {}
  [[nodiscard]] std::size_t chunks() const noexcept { return 4; }
  void run(std::size_t chunk, gilfree::Chunk& context);

 private:
  std::string kind_;
  std::string message_;
};

// Asks for `chunks` chunks (any count: the runtime must refuse 0 and absurd ones).
class BadChunks : Counted {
 public:
  explicit BadChunks(std::size_t chunks) noexcept : chunks_(chunks) {}
  [[nodiscard]] std::size_t chunks() const noexcept { return chunks_; }
  void run(std::size_t, gilfree::Chunk&) noexcept {}

 private:
  std::size_t chunks_;
};

}  // namespace kernelpkg
