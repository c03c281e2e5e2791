/// @file
/// `ops::conv2d`: torch.nn.Conv2d on NCHW or channels-last activations (both the same format) and
/// OIHW weights (dense, grouped, depthwise), with stride, zero padding, dilation, optional bias and a
/// fused activation.
#pragma once

#include <optional>

#include "sana/core/memory_format.hpp"
#include "sana/core/tensor_view.hpp"
#include "sana/ops/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace ops {

struct Conv2dParams {
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dil_h = 1, dil_w = 1;
  std::int64_t groups = 1;
  Activation act = Activation::None;

  static Conv2dParams same(std::int64_t kernel, std::int64_t groups = 1) {
    Conv2dParams p;
    p.pad_h = p.pad_w = kernel / 2;
    p.groups = groups;
    return p;
  }
};

/// Output spatial size of a convolution, as PyTorch computes it.
inline std::int64_t conv_out_size(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t pad, std::int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

namespace detail {
template <class Ctx, class T>
void conv2d_impl(Ctx& ctx, const TensorView<const T, 4, space_of<Ctx>>& x, const TensorView<const T, 4, space_of<Ctx>>& w,
                 const T* bias, std::int64_t bias_len, const TensorView<T, 4, space_of<Ctx>>& y, const Conv2dParams& p) {
  static_assert(FloatElement<T>, "[conv2d] element type must be float, f16 or bf16");
  check(w.is_contiguous(), "conv2d", "weight ", shape_string(w.shape()), " must be contiguous");
  check(p.groups >= 1 && p.stride_h >= 1 && p.stride_w >= 1 && p.dil_h >= 1 && p.dil_w >= 1 && p.pad_h >= 0 && p.pad_w >= 0,
        "conv2d", "stride, dilation and groups must be >= 1 and padding >= 0");
  Conv2dDesc d;
  d.dtype = dtype_of_v<T>;
  d.n = x.size(0);
  d.c_in = x.size(1);
  d.h = x.size(2);
  d.w = x.size(3);
  d.c_out = w.size(0);
  d.kh = w.size(2);
  d.kw = w.size(3);
  check(d.c_in % p.groups == 0 && d.c_out % p.groups == 0, "conv2d", "channels in ", d.c_in, " / out ", d.c_out,
        " are not divisible by groups ", p.groups);
  check(w.size(1) * p.groups == d.c_in, "conv2d", "weight ", shape_string(w.shape()), " expects ", w.size(1) * p.groups,
        " input channels with groups=", p.groups, ", input ", shape_string(x.shape()), " has ", d.c_in);
  check(bias == nullptr || bias_len == d.c_out, "conv2d", "bias has ", bias_len, " elements, expected ", d.c_out);
  d.stride_h = p.stride_h;
  d.stride_w = p.stride_w;
  d.pad_h = p.pad_h;
  d.pad_w = p.pad_w;
  d.dil_h = p.dil_h;
  d.dil_w = p.dil_w;
  d.groups = p.groups;
  d.h_out = conv_out_size(d.h, d.kh, p.stride_h, p.pad_h, p.dil_h);
  d.w_out = conv_out_size(d.w, d.kw, p.stride_w, p.pad_w, p.dil_w);
  check(d.h_out >= 1 && d.w_out >= 1, "conv2d", "kernel ", d.kh, "x", d.kw, " does not fit input ", d.h, "x", d.w,
        " with this padding");
  const Shape<4> expect{d.n, d.c_out, d.h_out, d.w_out};
  check(y.shape() == expect, "conv2d", "output is ", shape_string(y.shape()), ", expected ", shape_string(expect));
  d.x = x.data();
  d.weight = w.data();
  d.bias = bias;
  d.y = y.data();
  d.act = p.act;
  d.channels_last = shares_channels_last("conv2d", x, y);
  if (d.n == 0 || d.c_out == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}
} // namespace detail

/// y (N, O, H', W') = act(conv(x (N, C, H, W), weight (O, C/groups, kh, kw))).
template <class Ctx, class T>
void conv2d(Ctx& ctx, std::type_identity_t<TensorView<const T, 4, space_of<Ctx>>> x,
            std::type_identity_t<TensorView<const T, 4, space_of<Ctx>>> weight, TensorView<T, 4, space_of<Ctx>> y,
            const Conv2dParams& params = {}) {
  detail::conv2d_impl<Ctx, T>(ctx, x, weight, nullptr, 0, y, params);
}

/// y = act(conv(x, weight) + bias (O)).
template <class Ctx, class T>
void conv2d(Ctx& ctx, std::type_identity_t<TensorView<const T, 4, space_of<Ctx>>> x,
            std::type_identity_t<TensorView<const T, 4, space_of<Ctx>>> weight,
            std::type_identity_t<TensorView<const T, 1, space_of<Ctx>>> bias, TensorView<T, 4, space_of<Ctx>> y,
            const Conv2dParams& params = {}) {
  check(bias.stride(0) == 1 || bias.size(0) <= 1, "conv2d", "bias must be contiguous");
  detail::conv2d_impl<Ctx, T>(ctx, x, weight, bias.data(), bias.size(0), y, params);
}

} // namespace ops
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
