// set_allocator_thresholds: mallopt where the C library is glibc.
#include "memory/allocator.hpp"

#include <climits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gilfree::memory {

bool set_allocator_thresholds(std::size_t mmap_threshold, std::size_t trim_threshold) noexcept {
#if defined(__GLIBC__)
  if (mmap_threshold > INT_MAX || trim_threshold > INT_MAX) return false;
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_threshold)) == 1 &&
         mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim_threshold)) == 1;
#else
  (void)mmap_threshold;
  (void)trim_threshold;
  return false;
#endif
}

}  // namespace gilfree::memory
