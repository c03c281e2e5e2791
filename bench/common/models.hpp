// Model shapes, FLOP counts and random weights shared by the model benchmarks (sana-spec §1.1, §8).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sana/core.hpp"
#include "sana/dit/config.hpp"

namespace sana::bench {

/// The released transformers' shapes: 0.6B or 1.6B (diffusers' defaults are 1.6B).
inline dit::TransformerConfig sana_config(bool large) {
  dit::TransformerConfig c;
  if (!large) {
    c.num_attention_heads = 36;
    c.num_layers = 28;
    c.num_cross_attention_heads = 16;
    c.cross_attention_head_dim = 72;
    c.cross_attention_dim = 1152;
  }
  return c;
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

/// Deterministic pseudo-random fill in [-scale, scale), fast enough for billions of weights.
template <class T>
void fill(T* data, std::int64_t n, std::uint32_t seed, float scale) {
  std::uint32_t s = seed * 2654435761u + 1;
  for (std::int64_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    data[i] = convert<T>(scale * (static_cast<float>(s >> 8) * (1.0f / 8388608.0f) - 1.0f));
  }
}

/// Random weights for every parameter `visit(f)` hands out, on any backend (filled on the host, uploaded):
/// matrices uniform in ±1/sqrt(fan-in), norm weights 1, other vectors ±0.1, so activations stay finite.
template <class B, class T, class Visit>
/// Host backends are filled in place: a staging copy of the largest tensor (Gemma's 2.4 GB embedding table in
/// fp32) would otherwise be the load's memory peak, which the benchmarks report.
void randomize(context_t<B>& ctx, Visit&& visit, std::uint32_t seed) {
  std::vector<T> staging;
  visit([&](const std::string& name, auto&& param) {
    auto v = [](auto&& t) {  // a Tensor or a view
      if constexpr (requires { t.view(); }) return t.view();
      else return t;
    }(param);
    const std::int64_t n = v.numel();
    T* host = v.data();
    if constexpr (!is_host_backend_v<B>) {
      staging.resize(static_cast<std::size_t>(n));
      host = staging.data();
    }
    const bool norm = name.find("norm") != std::string::npos && v.rank == 1;
    if (norm) {
      std::fill(host, host + n, convert<T>(1.0f));
    } else {
      const float scale = v.rank >= 2 ? 1.0f / std::sqrt(static_cast<float>(n / v.size(0))) : 0.1f;
      fill<T>(host, n, seed++, scale);
    }
    if constexpr (!is_host_backend_v<B>) backend_traits<B>::upload(ctx, v.data(), host, static_cast<std::size_t>(n) * sizeof(T));
  });
  (void)ctx;
}

} // namespace sana::bench
