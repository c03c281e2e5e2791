/// @file
/// `TensorView<T, Rank, Space>`: a non-owning pointer + shape + strides (elements, PyTorch order).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"
#include "sana/core/error.hpp"
#include "sana/core/memory_space.hpp"
#include "sana/core/shape.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

template <class T, std::size_t Rank, class Space = host_space>
class TensorView {
public:
  using element_type = T;
  using value_type = std::remove_const_t<T>;
  using space = Space;
  static constexpr std::size_t rank = Rank;

  TensorView() = default;
  /// Contiguous view.
  TensorView(T* data, const Shape<Rank>& shape) : data_(data), shape_(shape), strides_(contiguous_strides(shape)) {}
  /// Strided view (strides in elements; 0 broadcasts).
  TensorView(T* data, const Shape<Rank>& shape, const Shape<Rank>& strides)
      : data_(data), shape_(shape), strides_(strides) {}

  /// A mutable view converts to a read-only one.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  TensorView(const TensorView<U, Rank, Space>& other)
      : data_(other.data()), shape_(other.shape()), strides_(other.strides()) {}

  T* data() const { return data_; }
  const Shape<Rank>& shape() const { return shape_; }
  const Shape<Rank>& strides() const { return strides_; }
  std::int64_t size(std::size_t d) const { return shape_[d]; }
  std::int64_t stride(std::size_t d) const { return strides_[d]; }
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto s : shape_) n *= s;
    return n;
  }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * sizeof(T); }
  bool empty() const { return numel() == 0; }

  bool is_contiguous() const {
    std::int64_t expect = 1;
    for (std::size_t i = Rank; i-- > 0;) {
      if (shape_[i] != 1 && strides_[i] != expect) return false;
      expect *= shape_[i];
    }
    return true;
  }

  /// Element access (host memory only).
  template <class... I>
    requires(sizeof...(I) == Rank && std::is_same_v<Space, host_space>)
  T& operator()(I... idx) const {
    const std::array<std::int64_t, Rank> ix{static_cast<std::int64_t>(idx)...};
    std::int64_t off = 0;
    for (std::size_t d = 0; d < Rank; ++d) off += ix[d] * strides_[d];
    return data_[off];
  }

  /// Same elements, new shape; the view must be contiguous.
  template <std::size_t NewRank>
  TensorView<T, NewRank, Space> reshape(const Shape<NewRank>& shape) const {
    check(is_contiguous(), "reshape", "view with shape ", shape_string(shape_), " is not contiguous");
    check(checked_numel(shape, "reshape") == numel(), "reshape", "cannot reshape ", shape_string(shape_), " to ",
          shape_string(shape));
    return TensorView<T, NewRank, Space>(data_, shape);
  }

  /// Sub-range [start, start+length) along dimension d (no copy).
  TensorView slice(std::size_t d, std::int64_t start, std::int64_t length) const {
    check(d < Rank && start >= 0 && length >= 0 && start + length <= shape_[d], "slice", "range [", start, ", ",
          start + length, ") outside dimension ", d, " of ", shape_string(shape_));
    Shape<Rank> s = shape_;
    s[d] = length;
    return TensorView(data_ + start * strides_[d], s, strides_);
  }

  /// Swaps two dimensions (no copy).
  TensorView transpose(std::size_t d0, std::size_t d1) const {
    check(d0 < Rank && d1 < Rank, "transpose", "dimension out of range for rank ", Rank);
    Shape<Rank> s = shape_, st = strides_;
    std::swap(s[d0], s[d1]);
    std::swap(st[d0], st[d1]);
    return TensorView(data_, s, st);
  }

  /// Reads (B, N, C) tokens as a (B, H, W, C) channels-last image (no copy).
  TensorView<T, 4, Space> as_image(std::int64_t h, std::int64_t w) const
    requires(Rank == 3)
  {
    check(h * w == shape_[1], "as_image", "token count ", shape_[1], " is not ", h, "x", w);
    return reshape(Shape<4>{shape_[0], h, w, shape_[2]});
  }

private:
  T* data_ = nullptr;
  Shape<Rank> shape_{};
  Shape<Rank> strides_{};
};

template <class T, std::size_t Rank, class Space>
bool same_shape(const TensorView<T, Rank, Space>& a, const Shape<Rank>& s) {
  return a.shape() == s;
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
