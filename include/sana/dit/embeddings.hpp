/// @file
/// Host-side embeddings of the Sana transformer, computed exactly as diffusers does in fp32/fp64:
/// the 256-wide timestep sinusoid and the 2-D sincos positional embedding. Both are tiny (B x 256,
/// and once per latent grid), so they are computed on the host and uploaded.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dit {

/// diffusers get_timestep_embedding(t, dim, flip_sin_to_cos=True, downscale_freq_shift=0): fp32,
/// out = [cos(t f_0..f_{h-1}), sin(t f_0..f_{h-1})], f_k = exp(-ln(10000) k / h), h = dim / 2.
inline void timestep_sinusoid(float t, std::span<float> out) {
  const std::size_t half = out.size() / 2;
  check(out.size() % 2 == 0, "timestep_sinusoid", "width ", out.size(), " must be even");
  const float neg_log = -static_cast<float>(std::log(10000.0));
  for (std::size_t k = 0; k < half; ++k) {
    const float exponent = neg_log * static_cast<float>(k) / static_cast<float>(half);
    const float a = t * std::exp(exponent);
    out[k] = std::cos(a);
    out[half + k] = std::sin(a);
  }
}

/// diffusers get_2d_sincos_pos_embed(embed_dim=c, grid_size=(h, w), base_size, interpolation_scale):
/// out (h*w, c) row-major, token n = i*w + j; first c/2 channels encode the column j, the rest the row i,
/// each as [sin(p w_k), cos(p w_k)], w_k = 10000^(-k/(c/4)), positions in fp32, products in fp64.
inline void sincos_pos_embed(std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t base_size,
                             double interpolation_scale, std::span<float> out) {
  check(c % 4 == 0 && static_cast<std::int64_t>(out.size()) == h * w * c, "sincos_pos_embed", "width ", c,
        " must be divisible by 4 and the output must hold ", h, "x", w, "x", c);
  const std::int64_t q = c / 4;
  // Grid positions exactly as torch computes them: float32 arange / float32(size / base) / float32(scale).
  auto position = [&](std::int64_t i, std::int64_t size) {
    const float step = static_cast<float>(static_cast<double>(size) / static_cast<double>(base_size));
    return static_cast<float>(static_cast<float>(i) / step) / static_cast<float>(interpolation_scale);
  };
  auto fill = [&](float* dst, float pos) {
    for (std::int64_t k = 0; k < q; ++k) {
      const double omega = 1.0 / std::pow(10000.0, static_cast<double>(k) / static_cast<double>(q));
      const double a = static_cast<double>(pos) * omega;
      dst[k] = static_cast<float>(std::sin(a));
      dst[q + k] = static_cast<float>(std::cos(a));
    }
  };
  for (std::int64_t i = 0; i < h; ++i)
    for (std::int64_t j = 0; j < w; ++j) {
      float* row = out.data() + (i * w + j) * c;
      fill(row, position(j, w));
      fill(row + c / 2, position(i, h));
    }
}

} // namespace dit
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
