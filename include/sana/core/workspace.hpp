/// @file
/// `Workspace<B>`: a stack (bump) arena for activations. A model takes its temporaries from it
/// inside a `Scope`; the first call may overflow into extra blocks, and `reset()` afterwards folds
/// them into one buffer of the high-water size, so every later call allocates nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sana/backend/traits.hpp"
#include "sana/core/error.hpp"
#include "sana/core/tensor_view.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

template <class B>
class Workspace {
public:
  using space = space_t<B>;
  static constexpr std::size_t alignment = 256;  // enough for vector loads and cuBLASLt

  Workspace() = default;
  explicit Workspace(std::size_t capacity_bytes) { reserve(capacity_bytes); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() { release_all(); }

  /// Ensures one block of at least `bytes`; only legal while nothing is allocated.
  void reserve(std::size_t bytes) {
    check(used_ == 0 && overflow_.empty(), "workspace", "reserve() while allocations are live");
    if (bytes <= capacity_) return;
    if (base_) backend_traits<B>::deallocate(base_);
    base_ = static_cast<std::byte*>(backend_traits<B>::allocate(bytes));
    capacity_ = bytes;
    ++allocations_;
  }

  /// Typed view of fresh (uninitialised) memory, valid until the enclosing Scope ends.
  template <class T, std::size_t Rank>
  TensorView<T, Rank, space> allocate(const Shape<Rank>& shape) {
    const std::size_t bytes = static_cast<std::size_t>(checked_numel(shape, "workspace")) * sizeof(T);
    return TensorView<T, Rank, space>(static_cast<T*>(allocate_bytes(bytes)), shape);
  }

  void* allocate_bytes(std::size_t bytes) {
    const std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
    demand_ += rounded;
    high_water_ = std::max(high_water_, demand_);
    if (overflow_.empty() && used_ + rounded <= capacity_) {
      void* p = base_ + used_;
      used_ += rounded;
      return p;
    }
    // Past capacity on a sizing call: give this request its own block, remembered for reset().
    void* p = backend_traits<B>::allocate(rounded);
    ++allocations_;
    overflow_.push_back({p});
    return p;
  }

  /// RAII mark: everything allocated after it is released when it ends (stack order).
  class Scope {
  public:
    explicit Scope(Workspace& ws) : ws_(ws), used_(ws.used_), demand_(ws.demand_), overflow_(ws.overflow_.size()) {}
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() {
      while (ws_.overflow_.size() > overflow_) {
        ws_.retired_.push_back(ws_.overflow_.back().ptr);
        ws_.overflow_.pop_back();
      }
      ws_.used_ = used_;
      ws_.demand_ = demand_;
    }

  private:
    Workspace& ws_;
    std::size_t used_, demand_, overflow_;
  };
  Scope scope() { return Scope(*this); }

  /// Call between model invocations: if the last one overflowed, re-reserve at the high-water mark.
  void reset() {
    check(used_ == 0 && overflow_.empty(), "workspace", "reset() while allocations are live");
    for (void* p : retired_) backend_traits<B>::deallocate(p);
    retired_.clear();
    if (high_water_ > capacity_) reserve(high_water_);
    demand_ = 0;
  }

  std::size_t capacity() const { return capacity_; }
  std::size_t high_water() const { return high_water_; }
  /// Number of backend allocations made so far (stays constant in steady state).
  std::size_t allocation_count() const { return allocations_; }

private:
  struct Block {
    void* ptr;
  };
  void release_all() noexcept {
    for (auto& b : overflow_) backend_traits<B>::deallocate(b.ptr);
    for (void* p : retired_) backend_traits<B>::deallocate(p);
    if (base_) backend_traits<B>::deallocate(base_);
    overflow_.clear();
    retired_.clear();
    base_ = nullptr;
  }

  std::byte* base_ = nullptr;
  std::size_t capacity_ = 0, used_ = 0, demand_ = 0, high_water_ = 0, allocations_ = 0;
  std::vector<Block> overflow_;
  std::vector<void*> retired_;  // overflow blocks whose scope ended; freed at reset(), when no queued kernel can still use them
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
