// BufferCache: a bounded list of retained blocks, best fit, least recently given back evicted.
#include "memory/buffer_cache.hpp"

#include <new>
#include <utility>

namespace gilfree::memory {
namespace {

constexpr std::align_val_t kAlignment{64};

std::byte* allocate(std::size_t capacity) {
  return static_cast<std::byte*>(::operator new(capacity, kAlignment));
}

void deallocate(std::byte* data) noexcept { ::operator delete(data, kAlignment); }

}  // namespace

Block::Block(Block&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)) {}

Block& Block::operator=(Block&& other) noexcept {
  if (this != &other) {
    release();
    cache_ = std::exchange(other.cache_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

Block::~Block() { release(); }

void Block::release() noexcept {
  if (data_ == nullptr) return;
  if (cache_ != nullptr) {
    cache_->give_back(data_, capacity_);
  } else {
    deallocate(data_);
  }
  cache_ = nullptr;
  data_ = nullptr;
  capacity_ = 0;
}

void Block::discard() noexcept {
  if (data_ != nullptr) deallocate(data_);
  cache_ = nullptr;
  data_ = nullptr;
  capacity_ = 0;
}

BufferCache::~BufferCache() {
  for (const Retained& block : retained_) deallocate(block.data);
}

Block BufferCache::take(std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes < kMinCachedBytes) return Block(nullptr, allocate(bytes), bytes);
  if (bytes > ~std::size_t{0} - kGranule) throw std::bad_alloc();
  const std::size_t capacity = (bytes + kGranule - 1) / kGranule * kGranule;
  {
    std::lock_guard lock(mu_);
    std::size_t best = retained_.size();
    for (std::size_t i = 0; i < retained_.size(); ++i) {
      const std::size_t have = retained_[i].capacity;
      if (have >= capacity && have <= 2 * capacity &&
          (best == retained_.size() || have < retained_[best].capacity)) {
        best = i;
      }
    }
    if (best != retained_.size()) {
      const Retained found = retained_[best];
      retained_.erase(retained_.begin() + static_cast<std::ptrdiff_t>(best));
      retained_bytes_ -= found.capacity;
      ++reused_;
      return Block(this, found.data, found.capacity);
    }
    ++allocated_;
  }
  return Block(this, allocate(capacity), capacity);
}

void BufferCache::give_back(std::byte* data, std::size_t capacity) noexcept {
  std::lock_guard lock(mu_);
  if (capacity <= max_retained_bytes_) {
    try {
      retained_.push_back({data, capacity});
      retained_bytes_ += capacity;
      evict_locked();
      return;
    } catch (const std::bad_alloc&) {  // no memory for the list entry: free the block instead
    }
  }
  deallocate(data);
}

void BufferCache::evict_locked() noexcept {
  std::size_t drop = 0;
  while (retained_bytes_ > max_retained_bytes_) {
    retained_bytes_ -= retained_[drop].capacity;
    deallocate(retained_[drop].data);
    ++drop;
  }
  retained_.erase(retained_.begin(), retained_.begin() + static_cast<std::ptrdiff_t>(drop));
}

void BufferCache::set_max_retained_bytes(std::size_t bytes) {
  std::lock_guard lock(mu_);
  max_retained_bytes_ = bytes;
  evict_locked();
}

BufferCacheStats BufferCache::stats() const {
  std::lock_guard lock(mu_);
  return BufferCacheStats{max_retained_bytes_, retained_bytes_, retained_.size(), reused_,
                          allocated_};
}

BufferCache& process_buffer_cache() noexcept {
  static auto* cache = new BufferCache(kDefaultRetainedBytes);
  return *cache;
}

}  // namespace gilfree::memory
