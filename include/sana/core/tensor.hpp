/// @file
/// `Tensor<T, Rank, Backend>`: owns its memory through the backend's allocator and
/// converts to a `TensorView` in the backend's memory space.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "sana/backend/reference/context.hpp"
#include "sana/backend/traits.hpp"
#include "sana/core/tensor_view.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

template <class T, std::size_t Rank, class B>
class Tensor {
public:
  using space = space_t<B>;
  using view_type = TensorView<T, Rank, space>;
  using const_view_type = TensorView<const T, Rank, space>;

  Tensor() = default;
  explicit Tensor(const Shape<Rank>& shape) : shape_(shape) {
    const std::int64_t n = checked_numel(shape, "tensor");
    data_.reset(static_cast<T*>(backend_traits<B>::allocate(static_cast<std::size_t>(n) * sizeof(T))));
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  const Shape<Rank>& shape() const { return shape_; }
  std::int64_t size(std::size_t d) const { return shape_[d]; }
  std::int64_t numel() const { return view().numel(); }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * sizeof(T); }
  bool defined() const { return static_cast<bool>(data_); }

  view_type view() { return view_type(data_.get(), shape_); }
  const_view_type view() const { return const_view_type(data_.get(), shape_); }
  operator view_type() { return view(); }
  operator const_view_type() const { return view(); }

private:
  struct deleter {
    void operator()(T* p) const noexcept { backend_traits<B>::deallocate(p); }
  };
  std::unique_ptr<T, deleter> data_;
  Shape<Rank> shape_{};
};

/// Copies a host view into a new tensor of backend B.
template <class B, class T, std::size_t Rank>
Tensor<std::remove_const_t<T>, Rank, B> to_backend(context_t<B>& ctx, const TensorView<T, Rank, host_space>& src) {
  check(src.is_contiguous(), "to_backend", "source view must be contiguous");
  Tensor<std::remove_const_t<T>, Rank, B> out(src.shape());
  backend_traits<B>::upload(ctx, out.data(), src.data(), out.bytes());
  return out;
}

/// Copies a view of backend B's memory into a new host tensor.
template <class B, class T, std::size_t Rank>
Tensor<std::remove_const_t<T>, Rank, reference_backend> to_host(context_t<B>& ctx,
                                                                 const TensorView<T, Rank, space_t<B>>& src) {
  check(src.is_contiguous(), "to_host", "source view must be contiguous");
  Tensor<std::remove_const_t<T>, Rank, reference_backend> out(src.shape());
  backend_traits<B>::download(ctx, out.data(), src.data(), out.bytes());
  return out;
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
