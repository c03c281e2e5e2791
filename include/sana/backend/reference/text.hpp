/// @file
/// Reference kernels of the text-encoder ops (see descriptors_text.hpp for the exact semantics).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "sana/backend/descriptors_text.hpp"
#include "sana/backend/reference/dispatch.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {

namespace detail {
/// Rounds an fp32 value to T and back (identity for float): one dtype op of PyTorch.
template <class T>
inline float round_to(float v) {
  return to_float(convert<T>(v));
}

/// RoPE's inverse frequencies, 1 / theta^(2i / head_dim) for i < head_dim / 2 (the reference and the SIMD kernels
/// share them so their angles agree bit for bit).
inline void rope_inv_freq(float theta, std::int64_t head_dim, float* inv_freq) {
  for (std::int64_t i = 0; i < head_dim / 2; ++i)
    inv_freq[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));
}
/// cos and sin of position `pos` times each inverse frequency, rounded to T as transformers' cos/sin caches are.
template <class T>
inline void rope_cos_sin(float pos, const float* inv_freq, std::int64_t half, float* cos_t, float* sin_t) {
  for (std::int64_t i = 0; i < half; ++i) {
    const float angle = pos * inv_freq[i];
    cos_t[i] = round_to<T>(std::cos(angle));
    sin_t[i] = round_to<T>(std::sin(angle));
  }
}
} // namespace detail

inline void run(const EmbeddingLookupDesc& d) {
  dispatch_float(d.dtype, "embedding_lookup", [&](auto tag) {
    using T = decltype(tag);
    const T* table = static_cast<const T*>(d.table);
    T* out = static_cast<T*>(d.out);
    for (std::int64_t i = 0; i < d.n; ++i) {
      const std::int64_t id = d.ids[i];
      check(id >= 0 && id < d.vocab, "embedding_lookup", "token id ", id, " at position ", i, " is outside the vocabulary [0, ",
            d.vocab, ")");
      const T* row = table + id * d.dim;
      T* o = out + i * d.dim;
      for (std::int64_t c = 0; c < d.dim; ++c) o[c] = convert<T>(to_float(row[c]) * d.scale);
    }
  });
}

inline void run(const GemmaRmsNormDesc& d) {
  dispatch_float(d.dtype, "gemma_rms_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* w = static_cast<const T*>(d.weight);
    std::vector<float> scale(static_cast<std::size_t>(d.cols));
    for (std::int64_t c = 0; c < d.cols; ++c) scale[c] = 1.0f + to_float(w[c]);
    std::vector<float> row(static_cast<std::size_t>(d.cols));
    for (std::int64_t r = 0; r < d.rows; ++r) {
      const T* x = d.x.row<const T>(0, r);
      T* y = d.y.row<T>(0, r);
      float ss = 0.0f;
      for (std::int64_t c = 0; c < d.cols; ++c) {
        row[c] = to_float(x[c]);
        ss += row[c] * row[c];
      }
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(d.cols) + d.eps);
      for (std::int64_t c = 0; c < d.cols; ++c) y[c] = convert<T>(row[c] * inv * scale[c]);
    }
  });
}

inline void run(const RotaryEmbeddingDesc& d) {
  check(d.head_dim % 2 == 0, "rotary_embedding", "head_dim ", d.head_dim, " is odd");
  dispatch_float(d.dtype, "rotary_embedding", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t half = d.head_dim / 2;
    std::vector<float> inv_freq(static_cast<std::size_t>(half)), cos_t(static_cast<std::size_t>(half)),
        sin_t(static_cast<std::size_t>(half));
    detail::rope_inv_freq(d.theta, d.head_dim, inv_freq.data());
    for (std::int64_t t = 0; t < d.tokens; ++t) {
      detail::rope_cos_sin<T>(static_cast<float>(d.position_offset + t), inv_freq.data(), half, cos_t.data(), sin_t.data());
      for (std::int64_t b = 0; b < d.batch; ++b) {
        for (std::int64_t h = 0; h < d.heads; ++h) {
          T* x = static_cast<T*>(d.x) + b * d.stride_b + t * d.stride_t + h * d.stride_h;
          for (std::int64_t i = 0; i < half; ++i) {
            const float x1 = to_float(x[i]), x2 = to_float(x[i + half]);
            // cat(x1, x2)·cos + cat(−x2, x1)·sin, each product rounded like a dtype op
            const float lo = detail::round_to<T>(x1 * cos_t[i]) + detail::round_to<T>(-x2 * sin_t[i]);
            const float hi = detail::round_to<T>(x2 * cos_t[i]) + detail::round_to<T>(x1 * sin_t[i]);
            x[i] = convert<T>(lo);
            x[i + half] = convert<T>(hi);
          }
        }
      }
    }
  });
}

inline void run(const AttentionSoftmaxDesc& d) {
  dispatch_float(d.dtype, "attention_softmax", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t shift = d.keys - d.queries;  // queries are the last `queries` positions
    std::vector<float> s(static_cast<std::size_t>(d.keys));
    for (std::int64_t b = 0; b < d.batch; ++b) {
      const std::int64_t* km = d.key_mask ? d.key_mask + b * d.keys : nullptr;
      for (std::int64_t h = 0; h < d.heads; ++h) {
        for (std::int64_t i = 0; i < d.queries; ++i) {
          T* row = static_cast<T*>(d.scores) + ((b * d.heads + h) * d.queries + i) * d.keys;
          const std::int64_t qpos = i + shift;
          float mx = -std::numeric_limits<float>::infinity();
          for (std::int64_t j = 0; j < d.keys; ++j) {
            const bool visible = (!km || km[j] != 0) && (!d.causal || j <= qpos) && (d.window <= 0 || qpos - j < d.window);
            if (!visible) {
              s[j] = -std::numeric_limits<float>::infinity();
              continue;
            }
            float v = to_float(row[j]);
            if (d.softcap > 0.0f)
              v = detail::round_to<T>(detail::round_to<T>(std::tanh(detail::round_to<T>(v / d.softcap))) * d.softcap);
            s[j] = v;
            mx = std::max(mx, v);
          }
          if (mx == -std::numeric_limits<float>::infinity()) {
            const T u = convert<T>(1.0f / static_cast<float>(d.keys));
            for (std::int64_t j = 0; j < d.keys; ++j) row[j] = u;
            continue;
          }
          float sum = 0.0f;
          for (std::int64_t j = 0; j < d.keys; ++j) {
            s[j] = std::exp(s[j] - mx);  // exp(-inf) = 0 for hidden keys
            sum += s[j];
          }
          const float inv = 1.0f / sum;
          for (std::int64_t j = 0; j < d.keys; ++j) row[j] = convert<T>(s[j] * inv);
        }
      }
    }
  });
}

} // namespace reference
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
