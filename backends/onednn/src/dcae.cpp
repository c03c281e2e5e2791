// DC-AE ops on the oneDNN backend (oneDNN has no primitive for these), split across oneDNN's OpenMP
// threads. NCHW: the channel RMSNorm and the GLU as AVX-512 kernels where the CPU has them, the
// multi-scale linear attention and the upsampling as the reference loops per independent slice.
// Channels-last (the format the autoencoder uses on this backend): RMSNorm and GLU as contiguous row
// kernels, the linear attention on the DiT's fused AVX-512 kernel (one head group at a time, strided),
// upsampling and pixel (un)shuffle as row copies / gathers; the rest through the reference.
#include <cstring>

#include "internal.hpp"
#include "sana/backend/reference/dcae.hpp"
#include "sana/backends/onednn/onednn.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

using onednn::for_batch_rows;
using onednn::offset;
using onednn::parallel_chunks;

namespace {

/// Group bg (= branch * heads + head) of a channels-last multi-scale attention as a one-head linear attention.
LinearAttentionDesc linear_group(const MultiscaleAttentionDesc& d, std::int64_t bg) {
  const std::int64_t hd = d.head_dim, in_c = 3 * d.heads * hd, out_c = d.branches * d.heads * hd;
  const std::int64_t b = bg / d.heads, g = bg % d.heads;
  LinearAttentionDesc a;
  a.dtype = d.dtype;
  a.batch = d.n;
  a.n = d.pixels;
  a.heads = 1;
  a.head_dim = hd;
  a.eps = d.eps;
  const StridedRows qkv{const_cast<void*>(d.qkv[b]), d.pixels * in_c, in_c};  // (n, pixels, 3 heads hd)
  a.q = qkv.at(d.dtype, 0, 0, g * 3 * hd);
  a.k = qkv.at(d.dtype, 0, 0, g * 3 * hd + hd);
  a.v = qkv.at(d.dtype, 0, 0, g * 3 * hd + 2 * hd);
  a.out = StridedRows{d.out, d.pixels * out_c, out_c}.at(d.dtype, 0, 0, bg * hd);
  return a;
}

void linear_attention_channels_last(onednn::Context& ctx, const MultiscaleAttentionDesc& d) {
  const std::int64_t groups = d.branches * d.heads, per_group = d.head_dim * d.head_dim + d.head_dim;
  float* states = static_cast<float*>(
      ctx.impl().buffer(onednn::kLinearAttentionStates, sizeof(float) * d.n * groups * per_group));  // (N, G, D+1, D)
  parallel_chunks(d.n * groups, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i)
      onednn::simd::linear_attention_state(linear_group(d, i % groups), i / groups, 0, states + i * per_group);
  });
  for_batch_rows(d.n, d.pixels, 16, [&](std::int64_t n, std::int64_t p0, std::int64_t p1) {
    for (std::int64_t bg = 0; bg < groups; ++bg)
      onednn::simd::linear_attention_apply(linear_group(d, bg), n, p0, p1, states + (n * groups + bg) * per_group);
  });
}

/// y (n, 2h, 2w, c) from x (n, h, w, c): each input pixel row copied twice into two output rows.
void upsample_channels_last(const UpsampleNearest2xDesc& d) {
  const std::size_t px = static_cast<std::size_t>(d.c) * onednn::elem_size(d.dtype), row = 2 * d.w * px;
  parallel_chunks(d.n * d.h, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {  // r = image * h + input row
      const char* src = static_cast<const char*>(d.x) + r * d.w * px;
      char* dst = static_cast<char*>(d.y) + 2 * r * row;
      for (std::int64_t j = 0; j < d.w; ++j) {
        std::memcpy(dst + 2 * j * px, src + j * px, px);
        std::memcpy(dst + (2 * j + 1) * px, src + j * px, px);
      }
      std::memcpy(dst + row, dst, row);
    }
  });
}

/// PixelShuffleDesc on channels-last maps, with the reference kernel's arithmetic per element.
template <class T>
void pixel_shuffle_channels_last(const PixelShuffleDesc& d) {
  const T* x = static_cast<const T*>(d.x);
  T* y = static_cast<T*>(d.y);
  const std::int64_t f = d.factor, hf = d.h * f, wf = d.w * f;
  if (d.direction == ShuffleDirection::ChannelsToSpace) {
    parallel_chunks(d.n * hf, 1, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {  // output row r = image * hf + oy
        const std::int64_t n = r / hf, oy = r % hf, i = oy / f, dy = oy % f;
        for (std::int64_t ox = 0; ox < wf; ++ox) {
          const T* xp = x + ((n * d.h + i) * d.w + ox / f) * d.c_in;
          T* yp = y + (r * wf + ox) * d.c_out;
          const std::int64_t sub = dy * f + ox % f;
          for (std::int64_t co = 0; co < d.c_out; ++co) {
            const T v = xp[(co * f * f + sub) / d.repeats];
            yp[co] = d.accumulate ? convert<T>(to_float(yp[co]) + to_float(v)) : v;
          }
        }
      }
    });
    return;
  }
  const float inv = 1.0f / static_cast<float>(d.group);
  parallel_chunks(d.n * d.h, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {  // output row r = image * h + i
      const std::int64_t n = r / d.h, i = r % d.h;
      for (std::int64_t j = 0; j < d.w; ++j) {
        T* yp = y + (r * d.w + j) * d.c_out;
        for (std::int64_t co = 0; co < d.c_out; ++co) {
          float acc = 0.0f;
          for (std::int64_t k = 0; k < d.group; ++k) {
            const std::int64_t u = co * d.group + k;  // unshuffled channel = c*f*f + dy*f + dx
            const std::int64_t c = u / (f * f), dy = (u / f) % f, dx = u % f;
            acc += to_float(x[((n * hf + i * f + dy) * wf + j * f + dx) * d.c_in + c]);
          }
          const float v = acc * inv;
          yp[co] = convert<T>(d.accumulate ? to_float(yp[co]) + v : v);
        }
      }
    }
  });
}

} // namespace

void kernels<onednn_backend>::run(onednn::Context&, const ChannelRmsNormDesc& d) {
  if (!onednn::simd::usable(d.dtype)) return reference::run(d);
  if (d.channels_last)
    return parallel_chunks(d.n * d.pixels, 16, [&](std::int64_t r0, std::int64_t r1) {
      onednn::simd::channel_rms_norm_rows(d, r0, r1);
    });
  for_batch_rows(d.n, d.pixels, 64, [&](std::int64_t n, std::int64_t p0, std::int64_t p1) {
    onednn::simd::channel_rms_norm(d, n, p0, p1);
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const GluDesc& d) {
  if (!onednn::simd::usable(d.dtype)) return reference::run(d);
  if (d.channels_last)
    return parallel_chunks(d.n * d.pixels, 16, [&](std::int64_t r0, std::int64_t r1) { onednn::simd::glu_rows(d, r0, r1); });
  for_batch_rows(d.n, d.channels * d.pixels, 4096, [&](std::int64_t n, std::int64_t i0, std::int64_t i1) {
    onednn::simd::glu(d, n, i0, i1);
  });
}

void kernels<onednn_backend>::run(onednn::Context& ctx, const MultiscaleAttentionDesc& d) {
  if (d.channels_last) {
    if (!d.quadratic && onednn::simd::linear_attention_supported(linear_group(d, 0)))
      return linear_attention_channels_last(ctx, d);
    return reference::run(d);  // through NCHW copies
  }
  // Every (image, branch, head group) is independent: one reference group per work item.
  reference::dispatch_float(d.dtype, "multiscale_attention", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t hd = d.head_dim, plane = hd * d.pixels, groups = d.branches * d.heads;
    parallel_chunks(d.n * groups, 1, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        const std::int64_t n = i / groups, b = (i % groups) / d.heads, g = i % d.heads;
        const T* base = static_cast<const T*>(d.qkv[b]) + n * 3 * d.heads * plane + g * 3 * plane;
        T* out = static_cast<T*>(d.out) + n * groups * plane + (b * d.heads + g) * plane;
        if (d.quadratic)
          reference::detail::quadratic_attention_group(base, base + plane, base + 2 * plane, out, hd, d.pixels, d.eps);
        else
          reference::detail::linear_attention_group(base, base + plane, base + 2 * plane, out, hd, d.pixels, d.eps);
      }
    });
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const UpsampleNearest2xDesc& d) {
  if (d.channels_last) return upsample_channels_last(d);
  parallel_chunks(d.n * d.c, 1, [&](std::int64_t c0, std::int64_t c1) {  // planes
    UpsampleNearest2xDesc s = d;
    s.n = 1;
    s.c = c1 - c0;
    s.x = offset(d.x, c0 * d.h * d.w, d.dtype);
    s.y = offset(d.y, c0 * 4 * d.h * d.w, d.dtype);
    reference::run(s);
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const PixelShuffleDesc& d) {
  if (!d.channels_last) return reference::run(d);
  reference::dispatch_float(d.dtype, "pixel_shuffle", [&](auto tag) { pixel_shuffle_channels_last<decltype(tag)>(d); });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
