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
/// ReLU linear attention over batch·heads slices of n tokens at head width d (the DiT's ops::linear_attention
/// and the DC-AE's ops::multiscale_attention core).
inline OpCost linear_attention_cost(double batch_heads, double n, double d, double elem) {
  return {batch_heads * 2 * 2 * n * d * (d + 1), elem * batch_heads * 4 * n * d};
}
/// ops::linear_attention over the DiT's self-attention: the d×d state and key sum, then applying it.
inline OpCost linear_attention_cost(const DitOpShapes& s, double elem) {
  return linear_attention_cost(double(s.batch) * s.heads, double(s.tokens), double(s.head_dim), elem);
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

/// ops::matmul: `batch` products (m, k) x (k, n).
inline OpCost matmul_cost(double batch, double m, double n, double k, double elem) {
  OpCost c = linear_cost(m, n, k, elem);
  return {batch * c.flops, batch * c.bytes};
}
/// An elementwise op over `elements` outputs reading `inputs` operands of the same size (ops::activation,
/// lincomb, copy, clamp; ops::glu_silu with inputs = 2; ops::average_channels with flops and inputs = the
/// averaging factor): `flops_per_element` per output.
inline OpCost elementwise_cost(double elements, double flops_per_element, double inputs, double elem) {
  return {elements * flops_per_element, elem * elements * (inputs + 1)};
}
/// ops::layer_norm over (rows, channels), with elementwise affine (mean, variance, normalise, scale, shift).
inline OpCost layer_norm_cost(double rows, double channels, double elem) {
  return {rows * channels * 7, elem * (2 * rows * channels + 2 * channels)};
}
/// ops::rms_norm, ops::gemma_rms_norm and ops::channel_rms_norm over (rows, channels): sum of squares,
/// normalise, weight.
inline OpCost rms_norm_cost(double rows, double channels, double elem) {
  return {rows * channels * 4, elem * (2 * rows * channels + channels)};
}
/// ops::batch_norm_eval over (pixels, channels): one multiply-add per element with folded statistics.
inline OpCost batch_norm_eval_cost(double pixels, double channels, double elem) {
  return {pixels * channels * 2, elem * (2 * pixels * channels + 4 * channels)};
}
/// ops::gated_residual: x += gate · y over (rows, channels), one gate row per batch.
inline OpCost gated_residual_cost(double batch, double rows, double channels, double elem) {
  return {rows * channels * 2, elem * (3 * rows * channels + batch * channels)};
}
/// ops::softmax and ops::attention_softmax over (rows, cols), scaled, with an optional additive bias row
/// per batch: max, subtract, exp, sum, divide (exp counted as one).
inline OpCost softmax_cost(double rows, double cols, double bias_rows, double elem) {
  return {rows * cols * 6, elem * (2 * rows * cols + bias_rows * cols)};
}
/// ops::rotary_embedding over x (B, H, T, d) in place: x·cos + rotate(x)·sin from a computed table.
inline OpCost rotary_embedding_cost(double batch_heads, double tokens, double head_dim, double elem) {
  const double n = batch_heads * tokens * head_dim;
  return {n * 3, elem * 2 * n};
}
/// ops::embedding_lookup: gather `tokens` rows of `hidden` (plus the Gemma scale, one multiply each).
inline OpCost embedding_lookup_cost(double tokens, double hidden, double elem) {
  return {tokens * hidden, elem * 2 * tokens * hidden + 8 * tokens};
}
/// Data movement only: ops::pixel_shuffle / pixel_unshuffle / repeat_channels /
/// upsample_nearest2x reading `in` and writing `out` elements.
inline OpCost reshuffle_cost(double in, double out, double elem) { return {0, elem * (in + out)}; }

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

/// FLOPs of one Gemma-2 forward over t tokens: every layer plus the final norm (the embedding gather costs no
/// FLOPs worth counting).
inline double gemma2_forward_flops(const text::Gemma2Config& c, double t) {
  return c.num_hidden_layers * gemma2_layer_flops(c, t) + rms_norm_cost(t, double(c.hidden_size), 0).flops;
}

} // namespace bench
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
