/// @file
/// Memory formats of 4-D (N, C, H, W) activations: contiguous NCHW, or channels-last (NHWC in memory,
/// PyTorch's `torch.channels_last`). The logical shape stays (N, C, H, W) in PyTorch order; only the
/// strides differ, so an op tells the two apart from its views.
#pragma once

#include <cstdint>
#include <string>

#include "sana/core/error.hpp"
#include "sana/core/tensor_view.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

enum class MemoryFormat : std::uint8_t { Contiguous, ChannelsLast };

inline const char* memory_format_name(MemoryFormat f) {
  return f == MemoryFormat::ChannelsLast ? "channels-last" : "contiguous NCHW";
}

/// Strides of a dense (N, C, H, W) tensor stored in format f.
constexpr Shape<4> format_strides(const Shape<4>& s, MemoryFormat f) {
  if (f == MemoryFormat::Contiguous) return contiguous_strides(s);
  return {s[1] * s[2] * s[3], 1, s[3] * s[1], s[1]};  // (N, C, H, W) with NHWC memory
}

/// Whether v is laid out densely in format f (strides of size-1 dimensions do not matter).
template <class T, class Space>
bool has_format(const TensorView<T, 4, Space>& v, MemoryFormat f) {
  const Shape<4> expect = format_strides(v.shape(), f);
  for (std::size_t d = 0; d < 4; ++d)
    if (v.size(d) != 1 && v.stride(d) != expect[d]) return false;
  return true;
}

/// A dense (N, C, H, W) view of p in format f.
template <class T, class Space = host_space>
TensorView<T, 4, Space> format_view(T* p, const Shape<4>& shape, MemoryFormat f) {
  return TensorView<T, 4, Space>(p, shape, format_strides(shape, f));
}

/// "(1, 8, 4, 4) strides (128, 16, 4, 1)": for errors about layouts.
template <class T, class Space>
std::string layout_string(const TensorView<T, 4, Space>& v) {
  return shape_string(v.shape()) + " strides " + shape_string(v.strides());
}

/// The one format all of an op's (N, C, H, W) activation views share: channels-last when any of them
/// can only be read that way, else contiguous; an `[op]` error when they disagree or one is neither.
template <class... V>
MemoryFormat common_format(const char* op, const V&... v) {
  constexpr auto cl = MemoryFormat::ChannelsLast, nchw = MemoryFormat::Contiguous;
  const MemoryFormat f = (... || (has_format(v, cl) && !has_format(v, nchw))) ? cl : nchw;
  if (!(... && has_format(v, f))) {
    std::string all;
    ((all += (all.empty() ? "" : ", ") + layout_string(v)), ...);
    check(false, op, "activations must all be contiguous NCHW or all channels-last, got ", all);
  }
  return f;
}

/// Whether an op's views share the channels-last format (common_format's checks included): what its
/// descriptor's `channels_last` says.
template <class... V>
bool shares_channels_last(const char* op, const V&... v) {
  return common_format(op, v...) == MemoryFormat::ChannelsLast;
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
