/// @file
/// Reference kernels of the Linear-DiT op family (see descriptors_dit.hpp). fp32 math, one RNE
/// rounding of each output. Inner loops run over contiguous channels so they vectorise; scratch
/// rows are thread-local and only grow, so steady-state calls allocate nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sana/backend/descriptors_dit.hpp"
#include "sana/backend/reference/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {

namespace detail {
/// A thread-local fp32 scratch buffer of at least n elements (slot picks one of a few buffers).
inline float* scratch(std::size_t n, int slot = 0) {
  thread_local std::vector<float> buf[4];
  auto& b = buf[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

/// φ of LinearAttentionDesc::feature_map, the oracle every backend's kernel follows.
inline float feature(float x, FeatureMap f) {
  if (f == FeatureMap::relu) return std::max(x, 0.0f);
  if (f == FeatureMap::elu_plus_one) return x > 0.0f ? x + 1.0f : std::exp(x);
  return x;
}

template <class T>
void load_row(const T* src, float* dst, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = to_float(src[i]);
}
} // namespace detail

inline void run(const ModulatedLayerNormDesc& d) {
  dispatch_float(d.dtype, "layer_norm_modulated", [&](auto tag) {
    using T = decltype(tag);
    float* row = detail::scratch(static_cast<std::size_t>(d.c), 0);
    float* mul = detail::scratch(static_cast<std::size_t>(d.c), 1);
    float* add = detail::scratch(static_cast<std::size_t>(d.c), 2);
    const bool modulated = static_cast<bool>(d.scale);
    for (std::int64_t b = 0; b < d.batch; ++b) {
      if (modulated) {
        const T* sc = d.scale.row<const T>(b, 0);
        const T* sh = d.shift.row<const T>(b, 0);
        for (std::int64_t j = 0; j < d.c; ++j) {
          mul[j] = 1.0f + to_float(sc[j]);
          add[j] = to_float(sh[j]);
        }
      }
      for (std::int64_t r = 0; r < d.rows; ++r) {
        const T* xr = d.x.row<const T>(b, r);
        T* yr = d.y.row<T>(b, r);
        detail::load_row(xr, row, d.c);
        float sum = 0.0f;
        for (std::int64_t j = 0; j < d.c; ++j) sum += row[j];
        const float mean = sum / static_cast<float>(d.c);
        float sq = 0.0f;
        for (std::int64_t j = 0; j < d.c; ++j) {
          const float t = row[j] - mean;
          sq += t * t;
        }
        const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(d.c) + d.eps);
        if (modulated) {
          for (std::int64_t j = 0; j < d.c; ++j) yr[j] = convert<T>((row[j] - mean) * rstd * mul[j] + add[j]);
        } else {
          for (std::int64_t j = 0; j < d.c; ++j) yr[j] = convert<T>((row[j] - mean) * rstd);
        }
      }
    }
  });
}

inline void run(const RmsNormDesc& d) {
  dispatch_float(d.dtype, "rms_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* w = static_cast<const T*>(d.weight);
    float* row = detail::scratch(static_cast<std::size_t>(d.c), 0);
    float* wf = detail::scratch(static_cast<std::size_t>(d.c), 1);
    for (std::int64_t j = 0; j < d.c; ++j) wf[j] = w ? to_float(w[j]) : 1.0f;
    for (std::int64_t r = 0; r < d.rows; ++r) {
      const T* xr = d.x.row<const T>(0, r);
      T* yr = d.y.row<T>(0, r);
      detail::load_row(xr, row, d.c);
      float sq = 0.0f;
      for (std::int64_t j = 0; j < d.c; ++j) sq += row[j] * row[j];
      const float inv = 1.0f / std::sqrt(sq / static_cast<float>(d.c) + d.eps);
      for (std::int64_t j = 0; j < d.c; ++j) yr[j] = convert<T>(row[j] * inv * wf[j]);
    }
  });
}

inline void run(const LinearAttentionDesc& d) {
  dispatch_float(d.dtype, "linear_attention", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t H = d.heads, D = d.head_dim, C = H * D;
    // Per head: state S[h] (D x D, S[i][j] = sum_n v_n[i] k~_n[j]) then the key sum z[h] (D).
    float* state = detail::scratch(static_cast<std::size_t>(H * D * D + H * D), 0);
    float* kt = detail::scratch(static_cast<std::size_t>(2 * C), 1);
    float* vt = kt + C;
    float* num = detail::scratch(static_cast<std::size_t>(D), 2);
    for (std::int64_t b = 0; b < d.batch; ++b) {
      std::fill(state, state + H * D * D + H * D, 0.0f);
      float* zsum = state + H * D * D;
      for (std::int64_t n = 0; n < d.n; ++n) {
        const T* kr = d.k.row<const T>(b, n);
        const T* vr = d.v.row<const T>(b, n);
        for (std::int64_t c = 0; c < C; ++c) {
          kt[c] = detail::feature(to_float(kr[c]), d.feature_map);
          vt[c] = to_float(vr[c]);
        }
        for (std::int64_t h = 0; h < H; ++h) {
          float* S = state + h * D * D;
          const float* kh = kt + h * D;
          const float* vh = vt + h * D;
          for (std::int64_t i = 0; i < D; ++i) {
            const float vi = vh[i];
            float* Si = S + i * D;
            for (std::int64_t j = 0; j < D; ++j) Si[j] += vi * kh[j];
          }
          float* z = zsum + h * D;
          for (std::int64_t j = 0; j < D; ++j) z[j] += kh[j];
        }
      }
      for (std::int64_t n = 0; n < d.n; ++n) {
        const T* qr = d.q.row<const T>(b, n);
        T* orow = d.out.row<T>(b, n);
        for (std::int64_t c = 0; c < C; ++c) kt[c] = detail::feature(to_float(qr[c]), d.feature_map);  // q~ (reuses kt)
        for (std::int64_t h = 0; h < H; ++h) {
          const float* S = state + h * D * D;
          const float* qh = kt + h * D;
          const float* z = zsum + h * D;
          float den = 0.0f;
          for (std::int64_t j = 0; j < D; ++j) den += z[j] * qh[j];
          for (std::int64_t i = 0; i < D; ++i) {
            const float* Si = S + i * D;
            float acc = 0.0f;
            for (std::int64_t j = 0; j < D; ++j) acc += Si[j] * qh[j];
            num[i] = acc;
          }
          const float inv = 1.0f / (den + d.eps);
          for (std::int64_t i = 0; i < D; ++i) orow[h * D + i] = convert<T>(num[i] * inv);
        }
      }
    }
  });
}

inline void run(const SoftmaxDesc& d) {
  dispatch_float(d.dtype, "softmax", [&](auto tag) {
    using T = decltype(tag);
    float* row = detail::scratch(static_cast<std::size_t>(d.l), 0);
    float* bias = detail::scratch(static_cast<std::size_t>(d.l), 1);
    for (std::int64_t b = 0; b < d.batch; ++b) {
      const T* bb = d.bias ? d.bias.row<const T>(b, 0) : nullptr;
      for (std::int64_t j = 0; j < d.l; ++j) bias[j] = bb ? to_float(bb[j]) : 0.0f;
      for (std::int64_t r = 0; r < d.rows; ++r) {
        T* x = static_cast<T*>(d.x) + (b * d.rows + r) * d.l;
        float mx = -INFINITY;
        for (std::int64_t j = 0; j < d.l; ++j) {
          row[j] = d.scale * to_float(x[j]) + bias[j];
          mx = std::max(mx, row[j]);
        }
        float sum = 0.0f;
        for (std::int64_t j = 0; j < d.l; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (std::int64_t j = 0; j < d.l; ++j) x[j] = convert<T>(row[j] * inv);
      }
    }
  });
}

inline void run(const DepthwiseGluDesc& d) {
  dispatch_float(d.dtype, "depthwise_glu", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t C2 = 2 * d.f;
    const T* u = static_cast<const T*>(d.u);
    const T* wsrc = static_cast<const T*>(d.weight);
    const T* bsrc = static_cast<const T*>(d.bias);
    T* y = static_cast<T*>(d.y);
    // Weights tap-major (9, 2f) in fp32 so the channel loop is contiguous.
    float* wt = detail::scratch(static_cast<std::size_t>(9 * C2 + C2 + C2), 0);
    float* bias = wt + 9 * C2;
    float* acc = bias + C2;
    float* urow = detail::scratch(static_cast<std::size_t>(C2), 1);
    for (std::int64_t c = 0; c < C2; ++c) {
      for (int t = 0; t < 9; ++t) wt[t * C2 + c] = to_float(wsrc[c * 9 + t]);
      bias[c] = bsrc ? to_float(bsrc[c]) : 0.0f;
    }
    const std::int64_t i0 = d.row_begin, i1 = d.row_end < 0 ? d.h : d.row_end;
    for (std::int64_t b = 0; b < d.batch; ++b) {
      for (std::int64_t i = i0; i < i1; ++i) {
        for (std::int64_t j = 0; j < d.w; ++j) {
          std::copy(bias, bias + C2, acc);
          for (int ky = 0; ky < 3; ++ky) {
            const std::int64_t ii = i + ky - 1;
            if (ii < 0 || ii >= d.h) continue;
            for (int kx = 0; kx < 3; ++kx) {
              const std::int64_t jj = j + kx - 1;
              if (jj < 0 || jj >= d.w) continue;
              const T* up = u + ((b * d.h + ii) * d.w + jj) * C2;
              const float* wtap = wt + (ky * 3 + kx) * C2;
              if constexpr (std::is_same_v<T, float>) {
                for (std::int64_t c = 0; c < C2; ++c) acc[c] += wtap[c] * up[c];
              } else {
                detail::load_row(up, urow, C2);
                for (std::int64_t c = 0; c < C2; ++c) acc[c] += wtap[c] * urow[c];
              }
            }
          }
          T* yp = y + ((b * d.h + i) * d.w + j) * d.f;
          for (std::int64_t c = 0; c < d.f; ++c) {
            const float g = acc[d.f + c];
            yp[c] = convert<T>(acc[c] * (g / (1.0f + std::exp(-g))));
          }
        }
      }
    }
  });
}

inline void run(const GatedResidualDesc& d) {
  dispatch_float(d.dtype, "gated_residual", [&](auto tag) {
    using T = decltype(tag);
    float* g = detail::scratch(static_cast<std::size_t>(d.c), 0);
    for (std::int64_t b = 0; b < d.batch; ++b) {
      const T* gate = d.gate ? d.gate.row<const T>(b, 0) : nullptr;
      for (std::int64_t c = 0; c < d.c; ++c) g[c] = gate ? to_float(gate[c]) : 1.0f;
      for (std::int64_t r = 0; r < d.rows; ++r) {
        T* x = static_cast<T*>(d.x) + (b * d.rows + r) * d.c;
        const T* y = d.y.row<const T>(b, r);
        for (std::int64_t c = 0; c < d.c; ++c) x[c] = convert<T>(to_float(x[c]) + g[c] * to_float(y[c]));
      }
    }
  });
}

} // namespace reference
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
