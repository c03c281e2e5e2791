// Test helpers for channels-last parity: a backend copy of a host NCHW map stored in a chosen
// memory format, and the way back to a contiguous host tensor.
#pragma once

#include <type_traits>
#include <vector>

#include "sana/core/memory_format.hpp"
#include "sana/core/tensor.hpp"
#include "support/backends.hpp"

namespace sana::test {

/// The formats B's DC-AE ops take: both on host backends, NCHW on device backends (CUDA rejects channels-last).
template <class B>
std::vector<MemoryFormat> test_formats() {
  if constexpr (is_host_backend_v<B>)
    return {MemoryFormat::Contiguous, MemoryFormat::ChannelsLast};
  else
    return {MemoryFormat::Contiguous};
}

/// An (N, C, H, W) map on backend B, densely stored in `format`.
template <class B, class T>
struct FormattedMap {
  Tensor<T, 1, B> storage;
  Shape<4> shape{};
  MemoryFormat format = MemoryFormat::Contiguous;

  TensorView<T, 4, space_t<B>> view() { return format_view<T, space_t<B>>(storage.data(), shape, format); }
  TensorView<const T, 4, space_t<B>> cview() const {
    return format_view<const T, space_t<B>>(storage.data(), shape, format);
  }
  /// The map as a contiguous NCHW host tensor.
  Tensor<T, 4, reference_backend> host() const {
    auto flat = to_host<B>(test_context<B>(), storage.view());
    const auto v = format_view<const T, host_space>(flat.data(), shape, format);
    Tensor<T, 4, reference_backend> out(shape);
    auto o = out.view();
    for (std::int64_t n = 0; n < shape[0]; ++n)
      for (std::int64_t c = 0; c < shape[1]; ++c)
        for (std::int64_t h = 0; h < shape[2]; ++h)
          for (std::int64_t w = 0; w < shape[3]; ++w) o(n, c, h, w) = v(n, c, h, w);
    return out;
  }
};

/// A copy of the contiguous host map x on backend B in `format`.
template <class B, class E>
FormattedMap<B, std::remove_const_t<E>> to_format(TensorView<E, 4, host_space> x, MemoryFormat format) {
  using T = std::remove_const_t<E>;
  Tensor<T, 1, reference_backend> flat(Shape<1>{x.numel()});
  const auto v = format_view<T, host_space>(flat.data(), x.shape(), format);
  for (std::int64_t n = 0; n < x.size(0); ++n)
    for (std::int64_t c = 0; c < x.size(1); ++c)
      for (std::int64_t h = 0; h < x.size(2); ++h)
        for (std::int64_t w = 0; w < x.size(3); ++w) v(n, c, h, w) = x(n, c, h, w);
  return FormattedMap<B, T>{to_backend<B>(test_context<B>(), flat.view()), x.shape(), format};
}

} // namespace sana::test
