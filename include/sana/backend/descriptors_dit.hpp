/// @file
/// Descriptors of the Linear-DiT op family (Sana transformer): modulated LayerNorm, RMSNorm,
/// ReLU linear attention, masked softmax, depthwise 3x3 + GLU on channels-last tokens, gated residual.
/// Every op computes in fp32 and rounds its output once (RNE) to `dtype`.
#pragma once

#include <cstdint>

#include "sana/backend/descriptors.hpp"
#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// Rows of x (batch, rows, c): y = LN(x) * (1 + scale[b]) + shift[b], LN without affine:
/// (x - mean) / sqrt(biased var + eps), statistics in fp32. scale/shift are C-vectors per batch item
/// (their row(b, 0)); both null = plain LayerNorm. y may equal x.
struct ModulatedLayerNormDesc {
  DType dtype = DType::F32;
  std::int64_t batch = 0, rows = 0, c = 0;
  StridedRows x, y;
  StridedRows shift, scale;
  float eps = 1e-6f;
};

/// Per row r < rows of length c: y = x * rsqrt(mean(x^2) + eps) * weight (weight may be null). fp32 statistics.
/// Rows are x.row(0, r) and y.row(0, r) (the op flattens leading dimensions); y may equal x.
struct RmsNormDesc {
  DType dtype = DType::F32;
  std::int64_t rows = 0, c = 0;
  StridedRows x, y;
  const void* weight = nullptr;
  float eps = 1e-5f;
};

/// Sana's ReLU linear attention (diffusers SanaLinearAttnProcessor2_0), per batch item b and head h:
///   q~ = relu(q), k~ = relu(k) (fp32);  S = sum_n v_n k~_n^T (d x d, fp32);  z = sum_n k~_n (fp32);
///   out_i = (S q~_i) / (z . q~_i + eps).
/// q, k, v, out are (batch, n, heads*d) with channel = h*d + j, each with its own token (row) and batch
/// strides, so q/k/v may be slices of one fused projection.
/// The linear attention's feature map φ, applied to q and k (in fp32) before the kernel trick:
/// out_n = Σ_m (φ(q_n)·φ(k_m)) v_m / (φ(q_n)·Σ_m φ(k_m) + eps).
enum class FeatureMap {
  relu,          ///< max(x, 0): Sana's (diffusers' SanaLinearAttnProcessor)
  elu_plus_one,  ///< elu(x) + 1 = x + 1 for x > 0, else e^x (Katharopoulos et al.'s linear transformer)
  identity       ///< x itself: no positivity, so the denominator may vanish (research only)
};

struct LinearAttentionDesc {
  DType dtype = DType::F32;
  std::int64_t batch = 0, n = 0, heads = 0, head_dim = 0;
  StridedRows q, k, v, out;
  float eps = 1e-15f;
  FeatureMap feature_map = FeatureMap::relu;
};

/// In place over contiguous x (batch, rows, l): x = softmax_l(scale * x + bias[b]) with fp32 math.
/// bias has x's dtype, row bias.row(b, 0) for batch item b (batch_stride 0 broadcasts one row); may be null.
struct SoftmaxDesc {
  DType dtype = DType::F32;
  std::int64_t batch = 0, rows = 0, l = 0;
  void* x = nullptr;
  StridedRows bias;
  float scale = 1.0f;
};

/// Mix-FFN middle of GLUMBConv on channels-last tokens: u (batch, h, w, 2f) contiguous;
/// d = depthwise 3x3 conv of u (zero padding 1, stride 1, weight (2f, 1, 3, 3), bias (2f));
/// y (batch, h, w, f) contiguous = d[..., :f] * silu(d[..., f:]).
/// Only output rows [row_begin, row_end) of each image are written (row_end < 0: all), so backends can
/// split the work by rows.
struct DepthwiseGluDesc {
  DType dtype = DType::F32;
  std::int64_t batch = 0, h = 0, w = 0, f = 0;
  std::int64_t row_begin = 0, row_end = -1;
  const void* u = nullptr;
  const void* weight = nullptr;
  const void* bias = nullptr;
  void* y = nullptr;
};

/// x (batch, rows, c) contiguous: x += gate[b] * y, gate the c-vector gate.row(b, 0) (null: plain residual
/// add); y (batch, rows, c) any batch and row strides.
struct GatedResidualDesc {
  DType dtype = DType::F32;
  std::int64_t batch = 0, rows = 0, c = 0;
  void* x = nullptr;
  StridedRows y, gate;
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
