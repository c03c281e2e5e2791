/// @file
/// DC-AE ops on (N, C, H, W) maps, contiguous NCHW or channels-last (all of an op's maps alike):
/// `channel_rms_norm`, `batch_norm_eval`, `multiscale_attention`,
/// `upsample_nearest2x`, `pixel_shuffle` / `pixel_unshuffle` (with the channel repeat / average
/// shortcuts and an accumulate mode), `repeat_channels`, `average_channels`, `glu_silu`.
#pragma once

#include <span>

#include "sana/backend/descriptors_dcae.hpp"
#include "sana/core/memory_format.hpp"
#include "sana/core/tensor_view.hpp"
#include "sana/ops/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace ops {

namespace detail {
template <class Ctx, class T, std::size_t R>
using view_t = TensorView<T, R, space_of<Ctx>>;

template <class V>
void require_channels(const V& v, std::int64_t c, const char* op, const char* name) {
  check(v.size(0) == c && v.is_contiguous(), op, name, " must be a contiguous (", c, ",) vector, got ",
        shape_string(v.shape()));
}
} // namespace detail

/// y (N, C, H, W) = RMSNorm over C of x, times weight (C), plus bias (C) [, plus residual]; y may alias x or residual.
template <class Ctx, class T>
void channel_rms_norm(Ctx& ctx, std::type_identity_t<detail::view_t<Ctx, const T, 4>> x, std::type_identity_t<detail::view_t<Ctx, const T, 1>> weight,
                      const T* bias, const T* residual, detail::view_t<Ctx, T, 4> y, float eps = 1e-5f) {
  static_assert(FloatElement<T>, "[channel_rms_norm] element type must be float, f16 or bf16");
  check(x.shape() == y.shape(), "channel_rms_norm", "input ", shape_string(x.shape()), " and output ",
        shape_string(y.shape()), " differ");
  detail::require_channels(weight, x.size(1), "channel_rms_norm", "weight");
  ChannelRmsNormDesc d;
  d.dtype = dtype_of_v<T>;
  d.channels_last = shares_channels_last("channel_rms_norm", x, y);
  d.n = x.size(0);
  d.c = x.size(1);
  d.pixels = x.size(2) * x.size(3);
  d.eps = eps;
  d.x = x.data();
  d.weight = weight.data();
  d.bias = bias;
  d.residual = residual;
  d.y = y.data();
  if (y.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// Eval-mode BatchNorm2d with running statistics [, plus residual]; weight / bias may be null.
template <class Ctx, class T>
void batch_norm_eval(Ctx& ctx, std::type_identity_t<detail::view_t<Ctx, const T, 4>> x, std::type_identity_t<detail::view_t<Ctx, const T, 1>> mean,
                     std::type_identity_t<detail::view_t<Ctx, const T, 1>> var, const T* weight, const T* bias, const T* residual,
                     detail::view_t<Ctx, T, 4> y, float eps = 1e-5f) {
  static_assert(FloatElement<T>, "[batch_norm] element type must be float, f16 or bf16");
  check(x.shape() == y.shape(), "batch_norm", "input ", shape_string(x.shape()), " and output ", shape_string(y.shape()),
        " differ");
  detail::require_channels(mean, x.size(1), "batch_norm", "running_mean");
  detail::require_channels(var, x.size(1), "batch_norm", "running_var");
  BatchNormDesc d;
  d.dtype = dtype_of_v<T>;
  d.channels_last = shares_channels_last("batch_norm", x, y);
  d.n = x.size(0);
  d.c = x.size(1);
  d.pixels = x.size(2) * x.size(3);
  d.eps = eps;
  d.x = x.data();
  d.mean = mean.data();
  d.var = var.data();
  d.weight = weight;
  d.bias = bias;
  d.residual = residual;
  d.y = y.data();
  if (y.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// SanaMultiscaleLinearAttention core: each of `qkv` is (N, 3*heads*head_dim, H, W); out is
/// (N, qkv.size()*heads*head_dim, H, W). The quadratic variant is used when H*W <= head_dim, as diffusers does.
template <class Ctx, class T>
void multiscale_attention(Ctx& ctx, std::span<const detail::view_t<Ctx, const T, 4>> qkv, detail::view_t<Ctx, T, 4> out,
                          std::int64_t head_dim, float eps = 1e-15f) {
  static_assert(FloatElement<T>, "[multiscale_attention] element type must be float, f16 or bf16");
  check(!qkv.empty() && qkv.size() <= static_cast<std::size_t>(kMaxAttentionBranches), "multiscale_attention",
        "between 1 and ", kMaxAttentionBranches, " branches are supported, got ", qkv.size());
  check(head_dim >= 1 && qkv[0].size(1) % (3 * head_dim) == 0, "multiscale_attention", "channels ", qkv[0].size(1),
        " are not a multiple of 3 * head_dim ", 3 * head_dim);
  MultiscaleAttentionDesc d;
  d.dtype = dtype_of_v<T>;
  d.n = qkv[0].size(0);
  d.heads = qkv[0].size(1) / (3 * head_dim);
  d.head_dim = head_dim;
  d.pixels = qkv[0].size(2) * qkv[0].size(3);
  d.branches = static_cast<int>(qkv.size());
  d.quadratic = d.pixels <= head_dim;
  d.eps = eps;
  const MemoryFormat format = common_format("multiscale_attention", qkv[0], out);
  d.channels_last = format == MemoryFormat::ChannelsLast;
  for (std::size_t b = 0; b < qkv.size(); ++b) {
    check(qkv[b].shape() == qkv[0].shape(), "multiscale_attention", "branch ", b, " ", shape_string(qkv[b].shape()),
          " differs from branch 0 ", shape_string(qkv[0].shape()));
    check(has_format(qkv[b], format), "multiscale_attention", "branch ", b, " ", layout_string(qkv[b]), " is not ",
          memory_format_name(format), " like branch 0 and the output");
    d.qkv[b] = qkv[b].data();
  }
  const Shape<4> expect{d.n, d.branches * d.heads * head_dim, qkv[0].size(2), qkv[0].size(3)};
  check(out.shape() == expect, "multiscale_attention", "output is ", shape_string(out.shape()), ", expected ",
        shape_string(expect));
  d.out = out.data();
  if (out.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// y (N, C, 2H, 2W) = F.interpolate(x (N, C, H, W), scale_factor=2, mode="nearest").
template <class Ctx, class T>
void upsample_nearest2x(Ctx& ctx, std::type_identity_t<detail::view_t<Ctx, const T, 4>> x, detail::view_t<Ctx, T, 4> y) {
  static_assert(FloatElement<T>, "[upsample_nearest2x] element type must be float, f16 or bf16");
  const Shape<4> expect{x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)};
  check(y.shape() == expect, "upsample_nearest2x", "output is ", shape_string(y.shape()), ", expected ",
        shape_string(expect));
  UpsampleNearest2xDesc d;
  d.dtype = dtype_of_v<T>;
  d.channels_last = shares_channels_last("upsample_nearest2x", x, y);
  d.n = x.size(0);
  d.c = x.size(1);
  d.h = x.size(2);
  d.w = x.size(3);
  d.x = x.data();
  d.y = y.data();
  if (y.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// y (N, C*r/f², H*f, W*f) (+)= pixel_shuffle(repeat_interleave(x (N, C, H, W), r, dim=1), f).
template <class Ctx, class T>
void pixel_shuffle(Ctx& ctx, std::type_identity_t<detail::view_t<Ctx, const T, 4>> x, detail::view_t<Ctx, T, 4> y, std::int64_t factor,
                   std::int64_t repeats = 1, bool accumulate = false) {
  static_assert(FloatElement<T>, "[pixel_shuffle] element type must be float, f16 or bf16");
  check(factor >= 1 && repeats >= 1 && (x.size(1) * repeats) % (factor * factor) == 0, "pixel_shuffle", "channels ",
        x.size(1), " x repeats ", repeats, " are not divisible by factor^2 = ", factor * factor);
  const Shape<4> expect{x.size(0), x.size(1) * repeats / (factor * factor), x.size(2) * factor, x.size(3) * factor};
  check(y.shape() == expect, "pixel_shuffle", "output is ", shape_string(y.shape()), ", expected ", shape_string(expect));
  PixelShuffleDesc d;
  d.dtype = dtype_of_v<T>;
  d.channels_last = shares_channels_last("pixel_shuffle", x, y);
  d.direction = ShuffleDirection::ChannelsToSpace;
  d.n = x.size(0);
  d.c_in = x.size(1);
  d.c_out = expect[1];
  d.h = x.size(2);
  d.w = x.size(3);
  d.factor = factor;
  d.repeats = repeats;
  d.accumulate = accumulate;
  d.x = x.data();
  d.y = y.data();
  if (y.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// y (N, C*f²/g, H/f, W/f) (+)= mean over consecutive groups of g channels of pixel_unshuffle(x (N, C, H, W), f).
template <class Ctx, class T>
void pixel_unshuffle(Ctx& ctx, std::type_identity_t<detail::view_t<Ctx, const T, 4>> x, detail::view_t<Ctx, T, 4> y, std::int64_t factor,
                     std::int64_t group = 1, bool accumulate = false) {
  static_assert(FloatElement<T>, "[pixel_unshuffle] element type must be float, f16 or bf16");
  check(factor >= 1 && group >= 1 && x.size(2) % factor == 0 && x.size(3) % factor == 0, "pixel_unshuffle", "input ",
        shape_string(x.shape()), " is not divisible by factor ", factor);
  check((x.size(1) * factor * factor) % group == 0, "pixel_unshuffle", "channels ", x.size(1) * factor * factor,
        " are not divisible by the averaging group ", group);
  const Shape<4> expect{x.size(0), x.size(1) * factor * factor / group, x.size(2) / factor, x.size(3) / factor};
  check(y.shape() == expect, "pixel_unshuffle", "output is ", shape_string(y.shape()), ", expected ",
        shape_string(expect));
  PixelShuffleDesc d;
  d.dtype = dtype_of_v<T>;
  d.channels_last = shares_channels_last("pixel_unshuffle", x, y);
  d.direction = ShuffleDirection::SpaceToChannels;
  d.n = x.size(0);
  d.c_in = x.size(1);
  d.c_out = expect[1];
  d.h = expect[2];
  d.w = expect[3];
  d.factor = factor;
  d.group = group;
  d.accumulate = accumulate;
  d.x = x.data();
  d.y = y.data();
  if (y.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// y (N, C*r, H, W) (+)= x.repeat_interleave(r, dim=1).
template <class Ctx, class T>
void repeat_channels(Ctx& ctx, std::type_identity_t<detail::view_t<Ctx, const T, 4>> x, detail::view_t<Ctx, T, 4> y, bool accumulate = false) {
  check(x.size(1) >= 1 && y.size(1) % x.size(1) == 0, "repeat_channels", "output channels ", y.size(1),
        " are not a multiple of input channels ", x.size(1));
  pixel_shuffle<Ctx, T>(ctx, x, y, 1, y.size(1) / x.size(1), accumulate);
}

/// y (N, C/g, H, W) (+)= x.unflatten(1, (-1, g)).mean(dim=2).
template <class Ctx, class T>
void average_channels(Ctx& ctx, std::type_identity_t<detail::view_t<Ctx, const T, 4>> x, detail::view_t<Ctx, T, 4> y, bool accumulate = false) {
  check(y.size(1) >= 1 && x.size(1) % y.size(1) == 0, "average_channels", "input channels ", x.size(1),
        " are not a multiple of output channels ", y.size(1));
  pixel_unshuffle<Ctx, T>(ctx, x, y, 1, x.size(1) / y.size(1), accumulate);
}

/// y (N, C, H, W) = x[:, :C] * silu(x[:, C:]) for x (N, 2C, H, W).
template <class Ctx, class T>
void glu_silu(Ctx& ctx, std::type_identity_t<detail::view_t<Ctx, const T, 4>> x, detail::view_t<Ctx, T, 4> y) {
  static_assert(FloatElement<T>, "[glu] element type must be float, f16 or bf16");
  const Shape<4> expect{x.size(0), x.size(1) / 2, x.size(2), x.size(3)};
  check(x.size(1) % 2 == 0 && y.shape() == expect, "glu", "input ", shape_string(x.shape()), " needs an even channel count and output ",
        shape_string(expect), ", got ", shape_string(y.shape()));
  GluDesc d;
  d.dtype = dtype_of_v<T>;
  d.channels_last = shares_channels_last("glu", x, y);
  d.n = x.size(0);
  d.channels = expect[1];
  d.pixels = x.size(2) * x.size(3);
  d.x = x.data();
  d.y = y.data();
  if (y.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

} // namespace ops
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
