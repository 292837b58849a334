// The kernel module {{module}}._native, for gilfree's runtime.
//
// count_primes(below) counts the primes below a bound with a segmented sieve of Eratosthenes:
// every chunk sieves its own segment, and gilfree's workers run the chunks at once, without the
// GIL.
#include <gilfree/python.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace nb = nanobind;

namespace {

using u64 = std::uint64_t;

constexpr u64 kMaxBelow = 10'000'000'000;  // 10^10: about 10 CPU seconds here
constexpr u64 kSegment = u64{1} << 17;     // numbers a chunk sieves (~100 us of work)

// The primes below `limit`, by a plain sieve (limit is at most sqrt(kMaxBelow) + 1).
std::vector<std::uint32_t> primes_below(u64 limit) {
  std::vector<bool> composite(limit, false);
  std::vector<std::uint32_t> primes;
  for (u64 n = 2; n < limit; ++n) {
    if (composite[n]) continue;
    primes.push_back(static_cast<std::uint32_t>(n));
    for (u64 m = n * n; m < limit; m += n) composite[m] = true;
  }
  return primes;
}

class CountPrimes {
 public:
  // Runs with the GIL, when the job is made: checks the input and does the small serial part.
  explicit CountPrimes(u64 below) : below_(checked(below)), counts_(chunks()) {
    base_ = primes_below(static_cast<u64>(std::sqrt(static_cast<double>(below_))) + 2);
  }

  static u64 checked(u64 below) {
    if (below > kMaxBelow) {
      throw gilfree::InvalidInput("below must be at most " + std::to_string(kMaxBelow));
    }
    return below;
  }

  std::size_t chunks() const { return static_cast<std::size_t>(below_ / kSegment + 1); }

  // CPU seconds on one core: about 1 ns a number here. The runtime measures the chunks and
  // corrects this estimate by the ratio it sees, so a constant factor off costs little.
  double cost_s() const { return 1e-9 * static_cast<double>(below_) + 1e-6; }

  // On gilfree's workers, without the GIL: one segment [begin, end), its count in counts_[chunk].
  void run(std::size_t chunk, gilfree::Chunk&) {
    const u64 begin = chunk * kSegment;
    const u64 end = std::min(below_, begin + kSegment);
    if (begin >= end) return;
    std::vector<char> composite(end - begin, 0);
    for (const u64 p : base_) {
      if (p * p >= end) break;
      for (u64 m = std::max(p * p, (begin + p - 1) / p * p); m < end; m += p) {
        composite[m - begin] = 1;
      }
    }
    u64 count = 0;
    for (u64 n = std::max<u64>(begin, 2); n < end; ++n) count += composite[n - begin] == 0;
    counts_[chunk] = count;
  }

  // With the GIL, once every chunk has run: nanobind makes it a Python int.
  u64 result() const { return std::accumulate(counts_.begin(), counts_.end(), u64{0}); }

 private:
  u64 below_;
  std::vector<u64> counts_;
  std::vector<std::uint32_t> base_;
};

}  // namespace

NB_MODULE(_native, m) {
  gilfree::python::import_runtime();  // ImportError if this gilfree is not the one built against
  m.attr("MAX_BELOW") = kMaxBelow;
  gilfree::python::def_kernel(
      m, "count_primes", [](u64 below) { return CountPrimes(below); }, nb::arg("below"));
}
