/// @file
/// Linear-DiT ops on channels-last tokens (B, N, C): modulated LayerNorm, RMSNorm, ReLU linear
/// attention, masked softmax and the cross-attention built from it, depthwise 3x3 + GLU, gated residual.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "sana/backend/descriptors_dit.hpp"
#include "sana/core/tensor_view.hpp"
#include "sana/ops/dispatch.hpp"
#include "sana/ops/linear.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace ops {

namespace detail {
/// The descriptor of LayerNorm over the rows of x (B, N, C) into y, without modulation.
template <class T, class X, class Y>
ModulatedLayerNormDesc layer_norm_desc(const char* op, const X& x, const Y& y, float eps) {
  check(x.shape() == y.shape(), op, "input ", shape_string(x.shape()), " and output ", shape_string(y.shape()), " differ");
  ModulatedLayerNormDesc d;
  d.dtype = dtype_of_v<T>;
  d.batch = x.size(0);
  d.rows = x.size(1);
  d.c = x.size(2);
  d.x = strided_rows(x, op, "input");
  d.y = strided_rows(y, op, "output");
  d.eps = eps;
  return d;
}
} // namespace detail

/// y (B, N, C) = LayerNorm(x) * (1 + scale[b]) + shift[b]; LayerNorm without affine, fp32 statistics.
/// shift, scale: (B, C) views with contiguous rows (e.g. rows of the (B, 6, C) modulation table).
/// x and y may have strided tokens; y may equal x.
template <class Ctx, class T>
void layer_norm_modulated(Ctx& ctx, std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> x,
                          std::type_identity_t<TensorView<const T, 2, space_of<Ctx>>> shift,
                          std::type_identity_t<TensorView<const T, 2, space_of<Ctx>>> scale,
                          TensorView<T, 3, space_of<Ctx>> y, float eps) {
  static_assert(FloatElement<T>, "[layer_norm_modulated] element type must be float, f16 or bf16");
  const char* op = "layer_norm_modulated";
  ModulatedLayerNormDesc d = detail::layer_norm_desc<T>(op, x, y, eps);
  const Shape<2> mod{x.size(0), x.size(2)};
  check(shift.shape() == mod && scale.shape() == mod, op, "shift ", shape_string(shift.shape()), " / scale ",
        shape_string(scale.shape()), " must be ", shape_string(mod));
  d.shift = detail::strided_rows(shift, op, "shift");
  d.scale = detail::strided_rows(scale, op, "scale");
  if (x.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// y (B, N, C) = LayerNorm(x) without affine parameters.
template <class Ctx, class T>
void layer_norm(Ctx& ctx, std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> x, TensorView<T, 3, space_of<Ctx>> y,
                float eps) {
  static_assert(FloatElement<T>, "[layer_norm] element type must be float, f16 or bf16");
  const ModulatedLayerNormDesc d = detail::layer_norm_desc<T>("layer_norm", x, y, eps);
  if (x.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// y (..., C) = x * rsqrt(mean(x^2) + eps) * weight (C), over the last dimension (Sana's
/// "rms_norm_across_heads": the whole C, before the head split). Rows may be strided; y may equal x.
template <class Ctx, class T, std::size_t R>
void rms_norm(Ctx& ctx, std::type_identity_t<TensorView<const T, R, space_of<Ctx>>> x,
              std::type_identity_t<TensorView<const T, 1, space_of<Ctx>>> weight, TensorView<T, R, space_of<Ctx>> y,
              float eps) {
  static_assert(FloatElement<T>, "[rms_norm] element type must be float, f16 or bf16");
  const char* op = "rms_norm";
  check(x.shape() == y.shape(), op, "input ", shape_string(x.shape()), " and output ", shape_string(y.shape()), " differ");
  check(weight.size(0) == x.size(R - 1) && (weight.stride(0) == 1 || weight.size(0) <= 1), op, "weight ",
        shape_string(weight.shape()), " must be a contiguous vector of ", x.size(R - 1), " elements");
  RmsNormDesc d;
  d.dtype = dtype_of_v<T>;
  d.c = x.size(R - 1);
  std::int64_t rows_y = 0;
  d.x = detail::flat_rows(x, d.rows, op, "input");
  d.y = detail::flat_rows(y, rows_y, op, "output");
  d.weight = weight.data();
  d.eps = eps;
  if (x.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// Sana's ReLU linear attention (see LinearAttentionDesc): q, k, v, out (B, N, heads*d), any token and
/// batch strides (q/k/v may be slices of one fused projection), contiguous channels. The d x d key-value
/// state, key sum and the division are fp32; eps is diffusers' 1e-15. `feature_map` replaces the ReLU
/// (FeatureMap::elu_plus_one, identity) on every backend.
template <class Ctx, class T>
void linear_attention(Ctx& ctx, std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> q,
                      std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> k,
                      std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> v, TensorView<T, 3, space_of<Ctx>> out,
                      std::int64_t heads, float eps = 1e-15f, FeatureMap feature_map = FeatureMap::relu) {
  static_assert(FloatElement<T>, "[linear_attention] element type must be float, f16 or bf16");
  const char* op = "linear_attention";
  check(k.shape() == q.shape() && v.shape() == q.shape() && out.shape() == q.shape(), op, "q ",
        shape_string(q.shape()), ", k ", shape_string(k.shape()), ", v ", shape_string(v.shape()), " and out ",
        shape_string(out.shape()), " must have one shape");
  check(heads > 0 && q.size(2) % heads == 0, op, q.size(2), " channels do not split into ", heads, " heads");
  LinearAttentionDesc d;
  d.dtype = dtype_of_v<T>;
  d.batch = q.size(0);
  d.n = q.size(1);
  d.heads = heads;
  d.head_dim = q.size(2) / heads;
  d.q = detail::strided_rows(q, op, "q");
  d.k = detail::strided_rows(k, op, "k");
  d.v = detail::strided_rows(v, op, "v");
  d.out = detail::strided_rows(out, op, "out");
  d.eps = eps;
  d.feature_map = feature_map;
  if (q.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// In place over contiguous x (B, R, L): x = softmax over L of (scale * x + bias[b]); bias (B, L) or
/// (1, L) in x's dtype, optional. fp32 math.
template <class Ctx, class T>
void softmax(Ctx& ctx, TensorView<T, 3, space_of<Ctx>> x,
             std::optional<std::type_identity_t<TensorView<const T, 2, space_of<Ctx>>>> bias, float scale = 1.0f) {
  static_assert(FloatElement<T>, "[softmax] element type must be float, f16 or bf16");
  check(x.is_contiguous(), "softmax", "input ", shape_string(x.shape()), " must be contiguous");
  SoftmaxDesc d;
  d.dtype = dtype_of_v<T>;
  d.batch = x.size(0);
  d.rows = x.size(1);
  d.l = x.size(2);
  d.x = x.data();
  d.scale = scale;
  if (bias) {
    check(bias->size(1) == d.l && (bias->size(0) == d.batch || bias->size(0) == 1), "softmax", "bias ",
          shape_string(bias->shape()), " does not broadcast to ", shape_string(x.shape()));
    d.bias = detail::strided_rows(*bias, "softmax", "bias");
    if (bias->size(0) == 1) d.bias.batch_stride = 0;
  }
  if (x.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// Reads the attention probabilities of a cross_attention call chunk by chunk: (batch item, first query
/// token, probabilities (H, nc, L) of queries [n0, n0 + nc)). Called after the softmax, before the values.
template <class T, class Space>
using AttentionProbabilitiesFn = std::function<void(std::int64_t, std::int64_t, TensorView<const T, 3, Space>)>;

/// Multi-head softmax attention as F.scaled_dot_product_attention with an additive key bias:
/// out (B, N, H*d) = softmax(q k^T / sqrt(d) + bias[b]) v per head, q (B, N, H*d), k/v (B, L, H*d)
/// (any token strides, contiguous channels), bias (B, L) optional. `scores` (H, Nc, L) is caller-provided
/// scratch: queries go through in chunks of Nc tokens, so its size bounds the memory at any resolution.
/// `on_probabilities`, when set, sees every chunk's probabilities (research hooks; no cost when empty).
template <class Ctx, class T>
void cross_attention(Ctx& ctx, std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> q,
                     std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> k,
                     std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> v,
                     std::optional<std::type_identity_t<TensorView<const T, 2, space_of<Ctx>>>> bias,
                     TensorView<T, 3, space_of<Ctx>> out, std::int64_t heads, TensorView<T, 3, space_of<Ctx>> scores,
                     const AttentionProbabilitiesFn<T, space_of<Ctx>>& on_probabilities = {}) {
  static_assert(FloatElement<T>, "[cross_attention] element type must be float, f16 or bf16");
  const char* op = "cross_attention";
  const std::int64_t B = q.size(0), N = q.size(1), C = q.size(2), L = k.size(1);
  check(heads > 0 && C % heads == 0, op, C, " channels do not split into ", heads, " heads");
  check(k.shape() == Shape<3>{B, L, C} && v.shape() == k.shape(), op, "k ", shape_string(k.shape()), " and v ",
        shape_string(v.shape()), " must be ", shape_string(Shape<3>{B, L, C}));
  check(out.shape() == q.shape(), op, "out ", shape_string(out.shape()), " must be ", shape_string(q.shape()));
  check(scores.size(0) == heads && scores.size(2) == L && scores.size(1) > 0 && scores.is_contiguous(), op, "scores ",
        shape_string(scores.shape()), " must be contiguous (", heads, ", chunk, ", L, ")");
  check(!bias || (bias->size(1) == L && (bias->size(0) == B || bias->size(0) == 1)), op, "bias ",
        bias ? shape_string(bias->shape()) : std::string(), " must be (", B, ", ", L, ")");
  const std::int64_t d = C / heads, chunk = scores.size(1);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  using View3 = TensorView<const T, 3, space_of<Ctx>>;
  for (std::int64_t b = 0; b < B; ++b) {
    // Per batch item, heads become the matmul batch: head h of q is columns [h*d, h*d+d).
    const View3 kh(k.data() + b * k.stride(0), {heads, d, L}, {d, 1, k.stride(1)});  // (H, d, L) = K^T
    const View3 vh(v.data() + b * v.stride(0), {heads, L, d}, {d, v.stride(1), 1});  // (H, L, d)
    std::optional<TensorView<const T, 2, space_of<Ctx>>> brow;
    if (bias) brow = bias->size(0) == 1 ? *bias : bias->slice(0, b, 1);
    for (std::int64_t n0 = 0; n0 < N; n0 += chunk) {
      const std::int64_t nc = std::min(chunk, N - n0);
      const View3 qh(q.data() + b * q.stride(0) + n0 * q.stride(1), {heads, nc, d}, {d, q.stride(1), 1});  // (H, nc, d)
      const TensorView<T, 3, space_of<Ctx>> s(scores.data(), {heads, nc, L});  // (H, nc, L)
      ops::matmul(ctx, qh, kh, s);                                     // (H, nc, L) raw scores
      ops::softmax(ctx, s.reshape(Shape<3>{1, heads * nc, L}), brow, scale);
      if (on_probabilities) on_probabilities(b, n0, TensorView<const T, 3, space_of<Ctx>>(s));
      TensorView<T, 3, space_of<Ctx>> oh(out.data() + b * out.stride(0) + n0 * out.stride(1), {heads, nc, d},
                                         {d, out.stride(1), 1});  // (H, nc, d)
      ops::matmul(ctx, View3(s), vh, oh);
    }
  }
}

/// Middle of Sana's Mix-FFN on channels-last tokens: y (B, H, W, F) = a * silu(g), where
/// [a | g] = depthwise_conv3x3(u (B, H, W, 2F), weight (2F, 1, 3, 3), bias (2F)), zero padding 1.
template <class Ctx, class T>
void depthwise_glu(Ctx& ctx, std::type_identity_t<TensorView<const T, 4, space_of<Ctx>>> u,
                   std::type_identity_t<TensorView<const T, 4, space_of<Ctx>>> weight,
                   std::type_identity_t<TensorView<const T, 1, space_of<Ctx>>> bias, TensorView<T, 4, space_of<Ctx>> y) {
  static_assert(FloatElement<T>, "[depthwise_glu] element type must be float, f16 or bf16");
  const char* op = "depthwise_glu";
  const std::int64_t C2 = u.size(3);
  check(C2 % 2 == 0, op, "input ", shape_string(u.shape()), " needs an even channel count");
  check(weight.shape() == Shape<4>{C2, 1, 3, 3} && weight.is_contiguous(), op, "weight ", shape_string(weight.shape()),
        " must be contiguous ", shape_string(Shape<4>{C2, 1, 3, 3}));
  check(bias.size(0) == C2 && (bias.stride(0) == 1 || C2 <= 1), op, "bias ", shape_string(bias.shape()),
        " must be a contiguous vector of ", C2);
  check(y.shape() == Shape<4>{u.size(0), u.size(1), u.size(2), C2 / 2}, op, "output ", shape_string(y.shape()),
        " must be ", shape_string(Shape<4>{u.size(0), u.size(1), u.size(2), C2 / 2}));
  check(u.is_contiguous() && y.is_contiguous(), op, "input and output must be contiguous");
  DepthwiseGluDesc d;
  d.dtype = dtype_of_v<T>;
  d.batch = u.size(0);
  d.h = u.size(1);
  d.w = u.size(2);
  d.f = C2 / 2;
  d.u = u.data();
  d.weight = weight.data();
  d.bias = bias.data();
  d.y = y.data();
  if (y.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// x (B, N, C) += gate[b] (C) * y (B, N, C); gate (B, C) with contiguous rows, or none (x += y).
/// x contiguous; y may have strided tokens and batches.
template <class Ctx, class T>
void gated_residual(Ctx& ctx, TensorView<T, 3, space_of<Ctx>> x, std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> y,
                    std::optional<std::type_identity_t<TensorView<const T, 2, space_of<Ctx>>>> gate) {
  static_assert(FloatElement<T>, "[gated_residual] element type must be float, f16 or bf16");
  const char* op = "gated_residual";
  check(x.shape() == y.shape(), op, "x ", shape_string(x.shape()), " and y ", shape_string(y.shape()), " differ");
  check(x.is_contiguous(), op, "x must be contiguous");
  GatedResidualDesc d;
  d.dtype = dtype_of_v<T>;
  d.batch = x.size(0);
  d.rows = x.size(1);
  d.c = x.size(2);
  d.x = x.data();
  d.y = detail::strided_rows(y, op, "y");
  if (gate) {
    check(gate->shape() == Shape<2>{x.size(0), x.size(2)}, op, "gate ", shape_string(gate->shape()), " must be (",
          x.size(0), ", ", x.size(2), ")");
    d.gate = detail::strided_rows(*gate, op, "gate");
  }
  if (x.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

} // namespace ops
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
