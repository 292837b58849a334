// Large byte buffers kept for reuse between requests.
//
// A service that answers multi-MiB requests would otherwise have the allocator map, fault in and
// unmap the same few buffers on every request: glibc serves such sizes with mmap (or trims them
// off the heap top), and each fresh page costs a fault and a zeroing. Measured on the wire path,
// that was two thirds of an octet-stream round trip of 1,000,000 numbers. A cache of a few
// blocks, bounded in bytes, takes that cost once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace gilfree::memory {

class BufferCache;

// Owns one buffer: its memory goes back to the cache it came from (or to the allocator) when the
// block is destroyed. Move-only. The bytes are uninitialised; data() is 64-byte aligned.
class Block {
 public:
  Block() noexcept = default;
  Block(Block&& other) noexcept;
  Block& operator=(Block&& other) noexcept;
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  ~Block();

  [[nodiscard]] std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool empty() const noexcept { return data_ == nullptr; }
  // Frees the memory to the allocator even if it came from a cache (to lower a peak: memory kept
  // for reuse is still resident). The block is empty afterwards.
  void discard() noexcept;

 private:
  friend class BufferCache;
  Block(BufferCache* cache, std::byte* data, std::size_t capacity) noexcept
      : cache_(cache), data_(data), capacity_(capacity) {}
  void release() noexcept;

  BufferCache* cache_ = nullptr;  // none: freed to the allocator
  std::byte* data_ = nullptr;
  std::size_t capacity_ = 0;
};

struct BufferCacheStats {
  std::size_t max_retained_bytes = 0;
  std::size_t retained_bytes = 0;  // in blocks waiting for reuse
  std::size_t retained_blocks = 0;
  std::uint64_t reused = 0;     // takes served by a retained block
  std::uint64_t allocated = 0;  // takes of cacheable size that needed a new block
};

// Thread-safe. Blocks of at least kMinCachedBytes are retained when given back, as long as the
// retained total stays within the limit (the least recently given back go first); smaller ones
// come from and go back to the allocator directly, which serves those sizes well. Blocks must not
// outlive their cache.
class BufferCache {
 public:
  static constexpr std::size_t kMinCachedBytes = std::size_t{256} << 10;
  // Capacities of cacheable blocks are rounded up to this, so that sizes that differ a little
  // share blocks.
  static constexpr std::size_t kGranule = std::size_t{64} << 10;

  explicit BufferCache(std::size_t max_retained_bytes) noexcept
      : max_retained_bytes_(max_retained_bytes) {}
  ~BufferCache();
  BufferCache(const BufferCache&) = delete;
  BufferCache& operator=(const BufferCache&) = delete;

  // A block of at least `bytes` (at least 1): the smallest retained one that fits and is not
  // more than about twice as large, else a new one. Throws std::bad_alloc.
  [[nodiscard]] Block take(std::size_t bytes);

  // Changes the limit; blocks retained past it are freed now. 0 retains nothing.
  void set_max_retained_bytes(std::size_t bytes);
  [[nodiscard]] BufferCacheStats stats() const;

 private:
  friend class Block;
  struct Retained {
    std::byte* data;
    std::size_t capacity;
  };
  void give_back(std::byte* data, std::size_t capacity) noexcept;
  // Frees retained blocks, oldest first, until the total is within the limit. Caller holds mu_.
  void evict_locked() noexcept;

  mutable std::mutex mu_;
  std::vector<Retained> retained_;  // oldest first
  std::size_t retained_bytes_ = 0;
  std::size_t max_retained_bytes_;
  std::uint64_t reused_ = 0;
  std::uint64_t allocated_ = 0;
};

// The process-wide cache the wire path uses (never destroyed: blocks may be released by Python
// objects during interpreter shutdown). Retains at most kDefaultRetainedBytes until told otherwise.
inline constexpr std::size_t kDefaultRetainedBytes = std::size_t{64} << 20;
BufferCache& process_buffer_cache() noexcept;

}  // namespace gilfree::memory
