/// @file
/// DC-AE op family on the GPU (descriptors_dcae.hpp): channel RMSNorm, eval BatchNorm, the multi-scale
/// ReLU linear attention (linear and quadratic variants), nearest x2 upsampling, pixel (un)shuffle with
/// the channel repeat / average shortcuts, and the SiLU GLU. Simple kernels, fp32 arithmetic, one
/// rounding of each output through sana::convert, as the reference backend does.

#include <cstdint>

#include "check.hpp"
#include "context_impl.hpp"
#include "device_common.cuh"
#include "sana/backend/descriptors_dcae.hpp"
#include "sana/backends/cuda/cuda.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace cuda::detail {
namespace {

__device__ __forceinline__ float silu_f(float v) { return v / (1.0f + expf(-v)); }

/// One thread per (batch, pixel): statistics over the channels, then the normalised column.
template <class T>
__global__ void channel_rms_norm_kernel(ChannelRmsNormDesc d) {
  const T* x = static_cast<const T*>(d.x);
  const T* w = static_cast<const T*>(d.weight);
  const T* b = static_cast<const T*>(d.bias);
  const T* r = static_cast<const T*>(d.residual);
  T* y = static_cast<T*>(d.y);
  const std::int64_t total = d.n * d.pixels;
  for (std::int64_t e = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t n = e / d.pixels, p = e % d.pixels, base = n * d.c * d.pixels + p;
    float ss = 0.0f;
    for (std::int64_t c = 0; c < d.c; ++c) {
      const float v = to_float(x[base + c * d.pixels]);
      ss += v * v;
    }
    const float inv = rsqrtf(ss / static_cast<float>(d.c) + d.eps);
    for (std::int64_t c = 0; c < d.c; ++c) {
      const std::int64_t i = base + c * d.pixels;
      float v = to_float(x[i]) * inv * to_float(w[c]) + (b ? to_float(b[c]) : 0.0f);
      if (r) v += to_float(r[i]);
      y[i] = convert<T>(v);
    }
  }
}

template <class T>
__global__ void batch_norm_kernel(BatchNormDesc d) {
  const T* x = static_cast<const T*>(d.x);
  const T* r = static_cast<const T*>(d.residual);
  T* y = static_cast<T*>(d.y);
  const std::int64_t total = d.n * d.c * d.pixels;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t c = (i / d.pixels) % d.c;
    const float scale = (d.weight ? to_float(static_cast<const T*>(d.weight)[c]) : 1.0f) /
                        sqrtf(to_float(static_cast<const T*>(d.var)[c]) + d.eps);
    const float shift = (d.bias ? to_float(static_cast<const T*>(d.bias)[c]) : 0.0f) -
                        to_float(static_cast<const T*>(d.mean)[c]) * scale;
    float v = to_float(x[i]) * scale + shift;
    if (r) v += to_float(r[i]);
    y[i] = convert<T>(v);
  }
}

constexpr int kAttnChunk = 32;  // pixels staged in shared memory per step of the state reduction

/// One block per (batch, branch, group). Shared: S (d+1, d), then a (d, chunk) tile of v and of relu(k).
template <class T>
__global__ void linear_attention_kernel(MultiscaleAttentionDesc d) {
  extern __shared__ float smem[];
  const std::int64_t hd = d.head_dim, P = d.pixels, plane = hd * P;
  const std::int64_t g = blockIdx.x % d.heads, b = (blockIdx.x / d.heads) % d.branches, n = blockIdx.x / (d.heads * d.branches);
  const T* base = static_cast<const T*>(d.qkv[b]) + n * 3 * d.heads * plane + g * 3 * plane;
  const T* q = base;
  const T* k = base + plane;
  const T* v = base + 2 * plane;
  T* out = static_cast<T*>(d.out) + n * d.branches * d.heads * plane + (b * d.heads + g) * plane;
  float* s = smem;                       // (d+1) * d
  float* vt = s + (hd + 1) * hd;         // d * chunk
  float* kt = vt + hd * kAttnChunk;      // d * chunk
  const int tid = threadIdx.x, nt = blockDim.x;
  for (std::int64_t e = tid; e < (hd + 1) * hd; e += nt) s[e] = 0.0f;
  // Each thread owns a fixed set of S entries and accumulates them in registers across chunks.
  constexpr int kMaxOwned = 8;
  float acc[kMaxOwned];
  for (int o = 0; o < kMaxOwned; ++o) acc[o] = 0.0f;
  const std::int64_t entries = (hd + 1) * hd;
  for (std::int64_t p0 = 0; p0 < P; p0 += kAttnChunk) {
    const std::int64_t len = min(static_cast<std::int64_t>(kAttnChunk), P - p0);
    __syncthreads();
    for (std::int64_t e = tid; e < hd * kAttnChunk; e += nt) {
      const std::int64_t i = e / kAttnChunk, p = e % kAttnChunk;
      vt[e] = p < len ? to_float(v[i * P + p0 + p]) : 0.0f;
      kt[e] = p < len ? fmaxf(to_float(k[i * P + p0 + p]), 0.0f) : 0.0f;
    }
    __syncthreads();
    int o = 0;
    for (std::int64_t e = tid; e < entries; e += nt, ++o) {
      const std::int64_t i = e / hd, j = e % hd;
      float a = 0.0f;
      for (int p = 0; p < kAttnChunk; ++p) a += (i < hd ? vt[i * kAttnChunk + p] : 1.0f) * kt[j * kAttnChunk + p];
      if (o < kMaxOwned) acc[o] += a;
      else atomicAdd(&s[e], a);  // heads wider than the owned-entry budget
    }
  }
  __syncthreads();
  {
    int o = 0;
    for (std::int64_t e = tid; e < entries; e += nt, ++o)
      if (o < kMaxOwned) s[e] += acc[o];
  }
  __syncthreads();
  for (std::int64_t p = tid; p < P; p += nt) {
    float den = 0.0f;
    for (std::int64_t j = 0; j < hd; ++j) den += s[hd * hd + j] * fmaxf(to_float(q[j * P + p]), 0.0f);
    for (std::int64_t i = 0; i < hd; ++i) {
      float num = 0.0f;
      for (std::int64_t j = 0; j < hd; ++j) num += s[i * hd + j] * fmaxf(to_float(q[j * P + p]), 0.0f);
      out[i * P + p] = convert<T>(num / (den + d.eps));
    }
  }
}

/// Tiny maps (pixels <= head_dim): one block per group, A (P, P) in shared memory.
template <class T>
__global__ void quadratic_attention_kernel(MultiscaleAttentionDesc d) {
  extern __shared__ float a[];
  const std::int64_t hd = d.head_dim, P = d.pixels, plane = hd * P;
  const std::int64_t g = blockIdx.x % d.heads, b = (blockIdx.x / d.heads) % d.branches, n = blockIdx.x / (d.heads * d.branches);
  const T* base = static_cast<const T*>(d.qkv[b]) + n * 3 * d.heads * plane + g * 3 * plane;
  const T* q = base;
  const T* k = base + plane;
  const T* v = base + 2 * plane;
  T* out = static_cast<T*>(d.out) + n * d.branches * d.heads * plane + (b * d.heads + g) * plane;
  const int tid = threadIdx.x, nt = blockDim.x;
  for (std::int64_t e = tid; e < P * P; e += nt) {
    const std::int64_t m = e / P, p = e % P;
    float acc = 0.0f;
    for (std::int64_t j = 0; j < hd; ++j) acc += fmaxf(to_float(k[j * P + m]), 0.0f) * fmaxf(to_float(q[j * P + p]), 0.0f);
    a[e] = acc;
  }
  __syncthreads();
  for (std::int64_t p = tid; p < P; p += nt) {
    float sum = 0.0f;
    for (std::int64_t m = 0; m < P; ++m) sum += a[m * P + p];
    for (std::int64_t m = 0; m < P; ++m) a[m * P + p] /= (sum + d.eps);
  }
  __syncthreads();
  for (std::int64_t e = tid; e < hd * P; e += nt) {
    const std::int64_t i = e / P, p = e % P;
    float acc = 0.0f;
    for (std::int64_t m = 0; m < P; ++m) acc += to_float(v[i * P + m]) * a[m * P + p];
    out[e] = convert<T>(acc);
  }
}

template <class T>
__global__ void upsample_nearest2x_kernel(UpsampleNearest2xDesc d) {
  const T* x = static_cast<const T*>(d.x);
  T* y = static_cast<T*>(d.y);
  const std::int64_t h2 = 2 * d.h, w2 = 2 * d.w, total = d.n * d.c * h2 * w2;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t ox = i % w2, oy = (i / w2) % h2, plane = i / (h2 * w2);
    y[i] = x[(plane * d.h + oy / 2) * d.w + ox / 2];
  }
}

template <class T>
__global__ void pixel_shuffle_kernel(PixelShuffleDesc d) {
  const T* x = static_cast<const T*>(d.x);
  T* y = static_cast<T*>(d.y);
  const std::int64_t f = d.factor;
  if (d.direction == ShuffleDirection::ChannelsToSpace) {
    const std::int64_t hf = d.h * f, wf = d.w * f, total = d.n * d.c_out * hf * wf;
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
      const std::int64_t ox = i % wf, oy = (i / wf) % hf, co = (i / (hf * wf)) % d.c_out, n = i / (hf * wf * d.c_out);
      const std::int64_t ci = (co * f * f + (oy % f) * f + (ox % f)) / d.repeats;
      const float v = to_float(x[((n * d.c_in + ci) * d.h + oy / f) * d.w + ox / f]);
      y[i] = convert<T>(d.accumulate ? to_float(y[i]) + v : v);
    }
  } else {
    const std::int64_t hf = d.h * f, wf = d.w * f, total = d.n * d.c_out * d.h * d.w;
    const float inv = 1.0f / static_cast<float>(d.group);
    for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
      const std::int64_t ox = i % d.w, oy = (i / d.w) % d.h, co = (i / (d.h * d.w)) % d.c_out, n = i / (d.h * d.w * d.c_out);
      float acc = 0.0f;
      for (std::int64_t kk = 0; kk < d.group; ++kk) {
        const std::int64_t u = co * d.group + kk, c = u / (f * f), dy = (u / f) % f, dx = u % f;
        acc += to_float(x[((n * d.c_in + c) * hf + oy * f + dy) * wf + ox * f + dx]);
      }
      const float v = acc * inv;
      y[i] = convert<T>(d.accumulate ? to_float(y[i]) + v : v);
    }
  }
}

template <class T>
__global__ void glu_kernel(GluDesc d) {
  const T* x = static_cast<const T*>(d.x);
  T* y = static_cast<T*>(d.y);
  const std::int64_t plane = d.channels * d.pixels, total = d.n * plane;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t n = i / plane, r = i % plane;
    const T* a = x + n * 2 * plane;
    y[i] = convert<T>(to_float(a[r]) * silu_f(to_float(a[plane + r])));
  }
}

} // namespace
} // namespace cuda::detail

using namespace cuda::detail;

void kernels<cuda_backend>::run(cuda::Context& ctx, const ChannelRmsNormDesc& d) {
  require_nchw(d.channels_last, "channel_rms_norm");
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "channel_rms_norm", [&](auto tag) {
    using T = decltype(tag);
    channel_rms_norm_kernel<T><<<grid_for(d.n * d.pixels), kBlock, 0, s>>>(d);
    SANA_CUDA_CHECK_LAUNCH("channel_rms_norm_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const BatchNormDesc& d) {
  require_nchw(d.channels_last, "batch_norm");
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    batch_norm_kernel<T><<<grid_for(d.n * d.c * d.pixels), kBlock, 0, s>>>(d);
    SANA_CUDA_CHECK_LAUNCH("batch_norm_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const MultiscaleAttentionDesc& d) {
  require_nchw(d.channels_last, "multiscale_attention");
  const cudaStream_t s = cuda::stream_of(ctx);
  const std::int64_t blocks = d.n * d.branches * d.heads;
  check(blocks <= (std::int64_t{1} << 31) - 1, "multiscale_attention", "too many groups for one launch: ", blocks);
  dispatch_float(d.dtype, "multiscale_attention", [&](auto tag) {
    using T = decltype(tag);
    if (d.quadratic) {
      const std::size_t shm = static_cast<std::size_t>(d.pixels * d.pixels) * sizeof(float);
      check(shm <= 48 * 1024, "multiscale_attention", "quadratic map of ", d.pixels, " pixels exceeds shared memory");
      quadratic_attention_kernel<T><<<static_cast<unsigned>(blocks), kBlock, shm, s>>>(d);
    } else {
      const std::size_t shm = static_cast<std::size_t>((d.head_dim + 1) * d.head_dim + 2 * d.head_dim * kAttnChunk) * sizeof(float);
      check(shm <= 48 * 1024, "multiscale_attention", "head_dim ", d.head_dim, " exceeds shared memory");
      linear_attention_kernel<T><<<static_cast<unsigned>(blocks), kBlock, shm, s>>>(d);
    }
    SANA_CUDA_CHECK_LAUNCH("multiscale_attention");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const UpsampleNearest2xDesc& d) {
  require_nchw(d.channels_last, "upsample_nearest2x");
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "upsample_nearest2x", [&](auto tag) {
    using T = decltype(tag);
    upsample_nearest2x_kernel<T><<<grid_for(d.n * d.c * 4 * d.h * d.w), kBlock, 0, s>>>(d);
    SANA_CUDA_CHECK_LAUNCH("upsample_nearest2x_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const PixelShuffleDesc& d) {
  require_nchw(d.channels_last, "pixel_shuffle");
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "pixel_shuffle", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t total = d.direction == ShuffleDirection::ChannelsToSpace ? d.n * d.c_out * d.h * d.w * d.factor * d.factor
                                                                                 : d.n * d.c_out * d.h * d.w;
    pixel_shuffle_kernel<T><<<grid_for(total), kBlock, 0, s>>>(d);
    SANA_CUDA_CHECK_LAUNCH("pixel_shuffle_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const GluDesc& d) {
  require_nchw(d.channels_last, "glu");
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "glu", [&](auto tag) {
    using T = decltype(tag);
    glu_kernel<T><<<grid_for(d.n * d.channels * d.pixels), kBlock, 0, s>>>(d);
    SANA_CUDA_CHECK_LAUNCH("glu_kernel");
  });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
