// Tuning of the C allocator for a service that handles multi-MiB requests.
#pragma once

#include <cstddef>

namespace gilfree::memory {

// glibc's malloc serves blocks from the mmap threshold up with mmap, and by default raises that
// threshold each time such a block is freed (up to 32 MiB). Once the large buffers of requests
// are kept by a BufferCache, no large block is freed any more, the threshold stays at 128 KiB, and
// the mid-size blocks a server churns through per request (the HTTP layer's body chunks, 64 KiB
// to a few hundred KiB) are each mapped, faulted in and unmapped: measured, that was a third of
// an octet-stream round trip of 1,000,000 numbers. Pinned thresholds keep such blocks in the heap
// for reuse: blocks under `mmap_threshold` come from the heap, and up to `trim_threshold` bytes
// free at the heap's top stay there. Returns false (and does nothing) where the allocator is not
// glibc's.
bool set_allocator_thresholds(std::size_t mmap_threshold, std::size_t trim_threshold) noexcept;

}  // namespace gilfree::memory
