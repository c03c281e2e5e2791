/// @file
/// How the CUDA backend runs a convolution on tensor cores: as cuBLASLt GEMMs over a lowered input.
///   - pointwise (1x1, stride 1, no padding, groups 1): y[n] (Cout x HW) = W (Cout x Cin) · x[n] (Cin x HW),
///     one batched GEMM over the images, no lowering at all;
///   - any other groups == 1 convolution: im2col. For a chunk of P output pixels of image n the columns
///     matrix cols (P x K), K = Cin·KH·KW, holds for pixel p and k = (ci, ky, kx) the input tap
///     x[n, ci, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw] (0 outside the image); then
///     y[n][:, p0 : p0+P] (Cout x P, row stride HW) = W (Cout x K) · colsᵀ;
///   - grouped / depthwise convolutions stay on the direct kernel (memory-bound, no GEMM to win).
/// The bias is per output channel, i.e. per GEMM row, which the GEMM epilogue (per column) cannot add:
/// y is first filled with the broadcast bias and the GEMM accumulates onto it (beta = 1); the activation
/// then runs in place. The sum is the same as the reference's (fp32 accumulation, one rounding of the
/// bias-added value only when the dtype is f32 — with bf16/f16 the GEMM rounds once from fp32 too).
///
/// Host-only and free of CUDA headers, so tests/cuda/test_conv_lowering.cpp runs these very plans on the
/// CPU with the reference kernels; `im2col_source` is also the device kernel's index function.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "sana/backend/descriptors.hpp"

#if defined(__CUDACC__)
#define SANA_HOST_DEVICE __host__ __device__
#else
#define SANA_HOST_DEVICE
#endif

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda::detail {

enum class ConvPath { Direct, Pointwise, Im2col };

/// The chosen path and, for im2col, the chunk of output pixels per GEMM.
struct ConvLowering {
  ConvPath path = ConvPath::Direct;
  std::int64_t k = 0;       ///< GEMM depth: c_in · kh · kw
  std::int64_t pixels = 0;  ///< h_out · w_out
  std::int64_t chunk = 0;   ///< output pixels per im2col chunk (im2col only)
};

/// Picks the path; an im2col chunk holds at most `max_column_bytes` of columns (and at least one pixel).
inline ConvLowering plan_conv(const Conv2dDesc& d, std::size_t max_column_bytes) {
  ConvLowering l;
  l.k = d.c_in * d.kh * d.kw;
  l.pixels = d.h_out * d.w_out;
  if (d.groups != 1) return l;
  const bool pointwise = d.kh == 1 && d.kw == 1 && d.stride_h == 1 && d.stride_w == 1 && d.pad_h == 0 &&
                         d.pad_w == 0 && d.h_out == d.h && d.w_out == d.w;
  if (pointwise) {
    l.path = ConvPath::Pointwise;
    return l;
  }
  l.path = ConvPath::Im2col;
  const std::int64_t row_bytes = l.k * static_cast<std::int64_t>(dtype_size(d.dtype));
  l.chunk = std::clamp<std::int64_t>(static_cast<std::int64_t>(max_column_bytes) / std::max<std::int64_t>(row_bytes, 1),
                                     1, std::max<std::int64_t>(l.pixels, 1));
  return l;
}

/// Element offset within one image of x of the tap that column element (p, k) holds, or -1 for padding.
SANA_HOST_DEVICE inline std::int64_t im2col_source(const Conv2dDesc& d, std::int64_t p, std::int64_t k) {
  const std::int64_t taps = d.kh * d.kw;
  const std::int64_t ci = k / taps, t = k % taps, ky = t / d.kw, kx = t % d.kw;
  const std::int64_t oy = p / d.w_out, ox = p % d.w_out;
  const std::int64_t iy = oy * d.stride_h - d.pad_h + ky * d.dil_h, ix = ox * d.stride_w - d.pad_w + kx * d.dil_w;
  if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) return -1;
  return (ci * d.h + iy) * d.w + ix;
}

/// y = broadcast bias: y[n, co, :] = bias[co] (a strided copy with stride-0 source dimensions).
inline CopyDesc bias_fill(const Conv2dDesc& d) {
  CopyDesc c;
  const std::int64_t hw = d.h_out * d.w_out;
  c.src.data = const_cast<void*>(d.bias);
  c.src.dtype = d.dtype;
  c.src.rank = 3;
  c.src.sizes = {d.n, d.c_out, hw};
  c.src.strides = {0, 1, 0};
  c.dst.data = d.y;
  c.dst.dtype = d.dtype;
  c.dst.rank = 3;
  c.dst.sizes = {d.n, d.c_out, hw};
  c.dst.strides = {d.c_out * hw, hw, 1};
  return c;
}

/// Pointwise: y[n] (Cout x HW) (+)= W (Cout x Cin) · x[n] (Cin x HW), batched over the images.
inline GemmDesc pointwise_gemm(const Conv2dDesc& d) {
  GemmDesc g;
  const std::int64_t hw = d.h * d.w;
  g.dtype = d.dtype;
  g.batch = d.n;
  g.m = d.c_out;
  g.n = hw;
  g.k = d.c_in;
  g.a = d.weight;
  g.lda = d.c_in;
  g.stride_a = 0;
  g.b = d.x;
  g.ldb = hw;
  g.stride_b = d.c_in * hw;
  g.c = d.y;
  g.ldc = hw;
  g.stride_c = d.c_out * hw;
  g.beta = d.bias ? 1.0f : 0.0f;
  return g;
}

/// im2col chunk: y[image][:, p0 : p0+np] (Cout x np, row stride HW) (+)= W (Cout x K) · colsᵀ, cols (np x K).
inline GemmDesc chunk_gemm(const Conv2dDesc& d, const ConvLowering& l, std::int64_t image, std::int64_t p0,
                           std::int64_t np, const void* columns) {
  GemmDesc g;
  const std::int64_t es = static_cast<std::int64_t>(dtype_size(d.dtype));
  g.dtype = d.dtype;
  g.m = d.c_out;
  g.n = np;
  g.k = l.k;
  g.a = d.weight;
  g.lda = l.k;
  g.b = columns;
  g.ldb = l.k;
  g.trans_b = true;
  g.c = static_cast<char*>(d.y) + (image * d.c_out * l.pixels + p0) * es;
  g.ldc = l.pixels;
  g.beta = d.bias ? 1.0f : 0.0f;
  return g;
}

/// The in-place activation over all of y (none when act is None).
inline ActivationDesc conv_activation(const Conv2dDesc& d) {
  ActivationDesc a;
  a.act = d.act;
  a.dtype = d.dtype;
  a.n = d.n * d.c_out * d.h_out * d.w_out;
  a.x = d.y;
  a.y = d.y;
  return a;
}

} // namespace cuda::detail
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
