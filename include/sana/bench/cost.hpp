/// @file
/// FLOP and byte counts of the library's ops and whole models, for GFLOP/s and GB/s counters and for the
/// floors in docs/performance.md. FLOPs count a multiply-add as 2; bytes are the minimum traffic (every
/// input read once, every output written once) at `elem` bytes per element.
#pragma once

#include <cstdint>

#include "sana/bench/shapes.hpp"
#include "sana/core/config.hpp"
#include "sana/dit/config.hpp"
#include "sana/text/gemma2.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace bench {

struct OpCost {
  double flops = 0, bytes = 0;
  OpCost& operator+=(const OpCost& o) {
    flops += o.flops;
    bytes += o.bytes;
    return *this;
  }
};

/// ops::linear / matmul: (m, k) x (k, n) [+ bias].
inline OpCost linear_cost(double m, double n, double k, double elem) {
  return {2 * m * n * k, elem * (m * k + k * n + m * n)};
}
/// ops::linear_attention over the DiT's self-attention: the d×d state and key sum, then applying it.
inline OpCost linear_attention_cost(const DitOpShapes& s, double elem) {
  const double bh = double(s.batch) * s.heads, n = double(s.tokens), d = double(s.head_dim);
  return {bh * 2 * 2 * n * d * (d + 1), elem * 4 * double(s.batch) * n * s.channels};
}
/// ops::cross_attention: QK^T, softmax, PV over the text tokens.
inline OpCost cross_attention_cost(const DitOpShapes& s, double elem) {
  const double bh = double(s.batch) * s.cross_heads, n = double(s.tokens), l = double(s.text_tokens),
               d = double(s.cross_head_dim), ci = double(s.cross_heads) * d;
  return {bh * (4 * n * l * d + 5 * n * l), elem * double(s.batch) * (2 * n * ci + 2 * l * ci)};
}
/// ops::depthwise_glu: 3x3 depthwise conv over 2F channels, then a · silu(g).
inline OpCost depthwise_glu_cost(const DitOpShapes& s, double elem) {
  const double p = double(s.batch) * s.tokens, f = double(s.ffn_hidden);
  return {p * 2 * f * 9 * 2 + p * f * 5, elem * (p * 2 * f + p * f) + elem * 2 * f * 10};
}
/// ops::layer_norm_modulated over (rows, channels): normalise, then x · (1 + scale) + shift.
inline OpCost layer_norm_modulated_cost(double rows, double channels, double elem) {
  return {rows * channels * 8, elem * (2 * rows * channels + 2 * channels)};
}
/// ops::conv2d at stride 1, "same" padding, batch 1.
inline OpCost conv2d_cost(const ConvShape& c, double elem) {
  const double p = double(c.hw) * c.hw;
  return {2 * p * c.c_out * (double(c.c_in) / c.groups) * c.k * c.k,
          elem * (p * c.c_in + p * c.c_out + double(c.c_out) * (double(c.c_in) / c.groups) * c.k * c.k)};
}

/// Multiply-adds of one transformer forward at batch 1 over n latent tokens and l text tokens (every GEMM,
/// the attention cores and the depthwise conv).
inline double dit_forward_macs(const dit::TransformerConfig& c, double n, double l) {
  const double C = c.width(), Ci = c.cross_width(), F = c.ffn_hidden(), d = c.attention_head_dim;
  const double block = 4 * n * C * C + 2 * (d + 1) * n * C  // self-attention projections + linear attention
                       + 2 * n * C * Ci + 2 * l * C * Ci + 2 * n * l * Ci  // cross q/out, text k/v, QK^T + PV
                       + n * C * 2 * F + 9 * 2 * F * n + n * F * C;        // Mix-FFN
  const double outside = l * (c.caption_channels * C + C * C) + n * c.in_channels * C + n * C * c.out_channels +
                         256 * C + 7 * C * C;
  return c.num_layers * block + outside;
}

/// FLOPs of one Gemma-2 layer over t tokens as computed (GEMMs; attention over the full t×t square).
inline double gemma2_layer_flops(const text::Gemma2Config& c, double t) {
  const double q = double(c.num_attention_heads * c.head_dim), kv = double(c.num_key_value_heads * c.head_dim);
  const double proj = 2.0 * t * c.hidden_size * (2 * q + 2 * kv) + 2.0 * t * 3 * c.hidden_size * c.intermediate_size;
  return proj + 4.0 * t * t * q;
}

} // namespace bench
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
