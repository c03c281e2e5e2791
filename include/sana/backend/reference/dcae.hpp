/// @file
/// Reference kernels of the DC-AE op family (see descriptors_dcae.hpp for the exact semantics).
/// Loops keep the pixel index innermost over contiguous memory so they vectorise; fp32 arithmetic.
/// Channels-last operands go through NCHW copies (channels_last.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sana/backend/descriptors_dcae.hpp"
#include "sana/backend/reference/channels_last.hpp"
#include "sana/backend/reference/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {

namespace detail {
inline constexpr std::int64_t kPixelChunk = 512;  // pixels per pass of the channel reductions (stack buffers)

inline float silu(float v) { return v / (1.0f + std::exp(-v)); }
} // namespace detail

inline void run(const ChannelRmsNormDesc& d) {
  if (d.channels_last)
    return detail::run_via_nchw(d, d.c, d.pixels, d.c, d.pixels, false, [](const auto& s) { run(s); });
  dispatch_float(d.dtype, "channel_rms_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(d.x);
    const T* w = static_cast<const T*>(d.weight);
    const T* b = static_cast<const T*>(d.bias);
    const T* r = static_cast<const T*>(d.residual);
    T* y = static_cast<T*>(d.y);
    float inv[detail::kPixelChunk];
    for (std::int64_t n = 0; n < d.n; ++n) {
      const std::int64_t base = n * d.c * d.pixels;
      for (std::int64_t p0 = 0; p0 < d.pixels; p0 += detail::kPixelChunk) {
        const std::int64_t len = std::min(detail::kPixelChunk, d.pixels - p0);
        std::fill(inv, inv + len, 0.0f);
        for (std::int64_t c = 0; c < d.c; ++c) {
          const T* xr = x + base + c * d.pixels + p0;
          for (std::int64_t p = 0; p < len; ++p) {
            const float v = to_float(xr[p]);
            inv[p] += v * v;
          }
        }
        const float mean_scale = 1.0f / static_cast<float>(d.c);
        for (std::int64_t p = 0; p < len; ++p) inv[p] = 1.0f / std::sqrt(inv[p] * mean_scale + d.eps);
        for (std::int64_t c = 0; c < d.c; ++c) {
          const std::int64_t off = base + c * d.pixels + p0;
          const float wc = to_float(w[c]), bc = b ? to_float(b[c]) : 0.0f;
          for (std::int64_t p = 0; p < len; ++p) {
            float v = to_float(x[off + p]) * inv[p] * wc + bc;
            if (r) v += to_float(r[off + p]);
            y[off + p] = convert<T>(v);
          }
        }
      }
    }
  });
}

inline void run(const BatchNormDesc& d) {
  if (d.channels_last)
    return detail::run_via_nchw(d, d.c, d.pixels, d.c, d.pixels, false, [](const auto& s) { run(s); });
  dispatch_float(d.dtype, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(d.x);
    const T* mean = static_cast<const T*>(d.mean);
    const T* var = static_cast<const T*>(d.var);
    const T* w = static_cast<const T*>(d.weight);
    const T* b = static_cast<const T*>(d.bias);
    const T* r = static_cast<const T*>(d.residual);
    T* y = static_cast<T*>(d.y);
    for (std::int64_t n = 0; n < d.n; ++n)
      for (std::int64_t c = 0; c < d.c; ++c) {
        const float scale = (w ? to_float(w[c]) : 1.0f) / std::sqrt(to_float(var[c]) + d.eps);
        const float shift = (b ? to_float(b[c]) : 0.0f) - to_float(mean[c]) * scale;
        const std::int64_t off = (n * d.c + c) * d.pixels;
        for (std::int64_t p = 0; p < d.pixels; ++p) {
          float v = to_float(x[off + p]) * scale + shift;
          if (r) v += to_float(r[off + p]);
          y[off + p] = convert<T>(v);
        }
      }
  });
}

namespace detail {
/// One (batch, branch, group) of the linear attention: q, k, v are (d, P) planes, out is (d, P).
template <class T>
void linear_attention_group(const T* q, const T* k, const T* v, T* out, std::int64_t d, std::int64_t pixels, float eps) {
  // S (d+1, d): rows 0..d-1 = v k'^T, row d = sum_p k' (the padded ones row).
  std::vector<float> s(static_cast<std::size_t>((d + 1) * d), 0.0f);
  std::vector<float> kt(static_cast<std::size_t>(kPixelChunk * d));   // chunk of k' transposed: (p, j)
  std::vector<float> acc(static_cast<std::size_t>((d + 1) * kPixelChunk));
  for (std::int64_t p0 = 0; p0 < pixels; p0 += kPixelChunk) {
    const std::int64_t len = std::min(kPixelChunk, pixels - p0);
    for (std::int64_t j = 0; j < d; ++j)
      for (std::int64_t p = 0; p < len; ++p) kt[p * d + j] = std::max(to_float(k[j * pixels + p0 + p]), 0.0f);
    for (std::int64_t i = 0; i <= d; ++i) {
      float* srow = &s[i * d];
      for (std::int64_t p = 0; p < len; ++p) {
        const float vi = i < d ? to_float(v[i * pixels + p0 + p]) : 1.0f;
        const float* kr = &kt[p * d];
        for (std::int64_t j = 0; j < d; ++j) srow[j] += vi * kr[j];
      }
    }
  }
  for (std::int64_t p0 = 0; p0 < pixels; p0 += kPixelChunk) {
    const std::int64_t len = std::min(kPixelChunk, pixels - p0);
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (std::int64_t j = 0; j < d; ++j) {
      const T* qr = q + j * pixels + p0;
      for (std::int64_t i = 0; i <= d; ++i) {
        const float sij = s[i * d + j];
        float* ar = &acc[i * kPixelChunk];
        for (std::int64_t p = 0; p < len; ++p) ar[p] += sij * std::max(to_float(qr[p]), 0.0f);
      }
    }
    const float* den = &acc[d * kPixelChunk];
    for (std::int64_t i = 0; i < d; ++i) {
      const float* ar = &acc[i * kPixelChunk];
      T* orow = out + i * pixels + p0;
      for (std::int64_t p = 0; p < len; ++p) orow[p] = convert<T>(ar[p] / (den[p] + eps));
    }
  }
}

/// The quadratic variant for maps of at most head_dim pixels.
template <class T>
void quadratic_attention_group(const T* q, const T* k, const T* v, T* out, std::int64_t d, std::int64_t pixels, float eps) {
  std::vector<float> a(static_cast<std::size_t>(pixels * pixels));  // a[m * P + p]
  for (std::int64_t m = 0; m < pixels; ++m)
    for (std::int64_t p = 0; p < pixels; ++p) {
      float acc = 0.0f;
      for (std::int64_t j = 0; j < d; ++j)
        acc += std::max(to_float(k[j * pixels + m]), 0.0f) * std::max(to_float(q[j * pixels + p]), 0.0f);
      a[m * pixels + p] = acc;
    }
  for (std::int64_t p = 0; p < pixels; ++p) {
    float sum = 0.0f;
    for (std::int64_t m = 0; m < pixels; ++m) sum += a[m * pixels + p];
    for (std::int64_t m = 0; m < pixels; ++m) a[m * pixels + p] /= (sum + eps);
  }
  for (std::int64_t i = 0; i < d; ++i)
    for (std::int64_t p = 0; p < pixels; ++p) {
      float acc = 0.0f;
      for (std::int64_t m = 0; m < pixels; ++m) acc += to_float(v[i * pixels + m]) * a[m * pixels + p];
      out[i * pixels + p] = convert<T>(acc);
    }
}
} // namespace detail

inline void run(const MultiscaleAttentionDesc& d) {
  if (d.channels_last) {
    std::vector<detail::PlanarCopy> qkv;
    MultiscaleAttentionDesc s = d;
    s.channels_last = false;
    for (int b = 0; b < d.branches; ++b) qkv.emplace_back(d.qkv[b], d.dtype, d.n, 3 * d.heads * d.head_dim, d.pixels);
    for (int b = 0; b < d.branches; ++b) s.qkv[b] = qkv[b].data();
    detail::PlanarCopy out(d.dtype, d.n, d.branches * d.heads * d.head_dim, d.pixels);
    s.out = out.data();
    run(s);
    return out.store(d.out);
  }
  dispatch_float(d.dtype, "multiscale_attention", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t hd = d.head_dim, plane = hd * d.pixels;
    const std::int64_t in_batch = 3 * d.heads * plane, out_batch = d.branches * d.heads * plane;
    for (std::int64_t n = 0; n < d.n; ++n)
      for (int b = 0; b < d.branches; ++b)
        for (std::int64_t g = 0; g < d.heads; ++g) {
          const T* base = static_cast<const T*>(d.qkv[b]) + n * in_batch + g * 3 * plane;
          T* out = static_cast<T*>(d.out) + n * out_batch + (b * d.heads + g) * plane;
          if (d.quadratic)
            detail::quadratic_attention_group(base, base + plane, base + 2 * plane, out, hd, d.pixels, d.eps);
          else
            detail::linear_attention_group(base, base + plane, base + 2 * plane, out, hd, d.pixels, d.eps);
        }
  });
}

inline void run(const UpsampleNearest2xDesc& d) {
  if (d.channels_last)
    return detail::run_via_nchw(d, d.c, d.h * d.w, d.c, 4 * d.h * d.w, false, [](const auto& s) { run(s); });
  dispatch_float(d.dtype, "upsample_nearest2x", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(d.x);
    T* y = static_cast<T*>(d.y);
    const std::int64_t w2 = 2 * d.w;
    for (std::int64_t plane = 0; plane < d.n * d.c; ++plane)
      for (std::int64_t i = 0; i < d.h; ++i) {
        const T* xr = x + (plane * d.h + i) * d.w;
        T* y0 = y + (plane * 2 * d.h + 2 * i) * w2;
        for (std::int64_t j = 0; j < d.w; ++j) y0[2 * j] = y0[2 * j + 1] = xr[j];
        std::copy(y0, y0 + w2, y0 + w2);
      }
  });
}

inline void run(const PixelShuffleDesc& d) {
  if (d.channels_last) {
    const std::int64_t lo = d.h * d.w, hi = lo * d.factor * d.factor;
    const bool up = d.direction == ShuffleDirection::ChannelsToSpace;
    return detail::run_via_nchw(d, d.c_in, up ? lo : hi, d.c_out, up ? hi : lo, d.accumulate, [](const auto& s) { run(s); });
  }
  dispatch_float(d.dtype, "pixel_shuffle", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(d.x);
    T* y = static_cast<T*>(d.y);
    const std::int64_t f = d.factor, hf = d.h * f, wf = d.w * f;
    if (d.direction == ShuffleDirection::ChannelsToSpace) {
      // y (n, c_out, h*f, w*f) from x (n, c_in, h, w)
      for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t co = 0; co < d.c_out; ++co)
          for (std::int64_t dy = 0; dy < f; ++dy)
            for (std::int64_t dx = 0; dx < f; ++dx) {
              const std::int64_t ci = (co * f * f + dy * f + dx) / d.repeats;
              const T* xp = x + (n * d.c_in + ci) * d.h * d.w;
              T* yp = y + (n * d.c_out + co) * hf * wf;
              for (std::int64_t i = 0; i < d.h; ++i) {
                T* yr = yp + (i * f + dy) * wf + dx;
                const T* xr = xp + i * d.w;
                for (std::int64_t j = 0; j < d.w; ++j) {
                  const float v = to_float(xr[j]);
                  yr[j * f] = convert<T>(d.accumulate ? to_float(yr[j * f]) + v : v);
                }
              }
            }
    } else {
      // y (n, c_out, h, w) from x (n, c_in, h*f, w*f)
      const float inv = 1.0f / static_cast<float>(d.group);
      std::vector<float> acc(static_cast<std::size_t>(d.w));
      for (std::int64_t n = 0; n < d.n; ++n)
        for (std::int64_t co = 0; co < d.c_out; ++co) {
          T* yp = y + (n * d.c_out + co) * d.h * d.w;
          for (std::int64_t i = 0; i < d.h; ++i) {
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (std::int64_t k = 0; k < d.group; ++k) {
              const std::int64_t u = co * d.group + k;  // unshuffled channel = c*f*f + dy*f + dx
              const std::int64_t c = u / (f * f), dy = (u / f) % f, dx = u % f;
              const T* xr = x + ((n * d.c_in + c) * hf + i * f + dy) * wf + dx;
              for (std::int64_t j = 0; j < d.w; ++j) acc[j] += to_float(xr[j * f]);
            }
            T* yr = yp + i * d.w;
            for (std::int64_t j = 0; j < d.w; ++j) {
              const float v = acc[j] * inv;
              yr[j] = convert<T>(d.accumulate ? to_float(yr[j]) + v : v);
            }
          }
        }
    }
  });
}

inline void run(const GluDesc& d) {
  if (d.channels_last)
    return detail::run_via_nchw(d, 2 * d.channels, d.pixels, d.channels, d.pixels, false, [](const auto& s) { run(s); });
  dispatch_float(d.dtype, "glu", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(d.x);
    T* y = static_cast<T*>(d.y);
    const std::int64_t plane = d.channels * d.pixels;
    for (std::int64_t n = 0; n < d.n; ++n) {
      const T* a = x + n * 2 * plane;
      const T* g = a + plane;
      T* o = y + n * plane;
      for (std::int64_t i = 0; i < plane; ++i) o[i] = convert<T>(to_float(a[i]) * detail::silu(to_float(g[i])));
    }
  });
}

} // namespace reference
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
