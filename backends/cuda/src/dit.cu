/// @file
/// Linear-DiT kernels (descriptors_dit.hpp): modulated LayerNorm, RMSNorm, ReLU linear attention,
/// masked softmax, depthwise 3x3 + GLU on channels-last tokens, gated residual. fp32 math; loads and
/// stores through sana::to_float / sana::convert like the reference backend. Written simple first:
/// one block per row for the norms, one warp per row for the softmax, one block per (batch, head)
/// for the linear attention (its d x d state lives in shared memory).

#include <cstdint>

#include "check.hpp"
#include "context_impl.hpp"
#include "device_common.cuh"
#include "sana/backend/descriptors_dit.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace cuda::detail {
namespace {

#define SANA_DIT_GRID_STRIDE_LOOP(i, n)                                                          \
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

constexpr int kRowBlock = 256;

/// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // partial[] may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  float s = lane < warps ? partial[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// ---- modulated LayerNorm: one block per row ---------------------------------------------------------

template <class T>
__global__ void layer_norm_kernel(ModulatedLayerNormDesc d) {
  const std::int64_t row = blockIdx.x, b = row / d.rows, r = row % d.rows;
  const T* x = d.x.row<const T>(b, r);
  T* y = d.y.row<T>(b, r);
  float s = 0.0f;
  for (std::int64_t j = threadIdx.x; j < d.c; j += blockDim.x) s += to_float(x[j]);
  const float mean = block_sum(s) / static_cast<float>(d.c);
  float q = 0.0f;
  for (std::int64_t j = threadIdx.x; j < d.c; j += blockDim.x) {
    const float t = to_float(x[j]) - mean;
    q += t * t;
  }
  const float rstd = rsqrtf(block_sum(q) / static_cast<float>(d.c) + d.eps);
  __syncthreads();  // y may alias x: every thread has read its elements before anyone writes
  const T* scale = d.scale ? d.scale.row<const T>(b, 0) : nullptr;
  const T* shift = d.shift ? d.shift.row<const T>(b, 0) : nullptr;
  for (std::int64_t j = threadIdx.x; j < d.c; j += blockDim.x) {
    float v = (to_float(x[j]) - mean) * rstd;
    if (scale) v = v * (1.0f + to_float(scale[j])) + to_float(shift[j]);
    y[j] = convert<T>(v);
  }
}

// ---- RMSNorm: one block per row --------------------------------------------------------------------

template <class T>
__global__ void rms_norm_kernel(RmsNormDesc d) {
  const T* x = d.x.row<const T>(0, blockIdx.x);
  T* y = d.y.row<T>(0, blockIdx.x);
  const T* w = static_cast<const T*>(d.weight);
  float q = 0.0f;
  for (std::int64_t j = threadIdx.x; j < d.c; j += blockDim.x) {
    const float v = to_float(x[j]);
    q += v * v;
  }
  const float inv = rsqrtf(block_sum(q) / static_cast<float>(d.c) + d.eps);
  __syncthreads();
  for (std::int64_t j = threadIdx.x; j < d.c; j += blockDim.x)
    y[j] = convert<T>(to_float(x[j]) * inv * (w ? to_float(w[j]) : 1.0f));
}

// ---- ReLU linear attention: one block per (batch item, head) ----------------------------------------

constexpr int kAttnTile = 32;  // tokens staged in shared memory at a time

/// φ of LinearAttentionDesc::feature_map (the reference's detail::feature).
__device__ inline float feature(float x, FeatureMap f) {
  if (f == FeatureMap::relu) return fmaxf(x, 0.0f);
  if (f == FeatureMap::elu_plus_one) return x > 0.0f ? x + 1.0f : expf(x);
  return x;
}

template <class T>
__global__ void linear_attention_kernel(LinearAttentionDesc d) {
  extern __shared__ float smem[];
  const int D = static_cast<int>(d.head_dim);
  float* S = smem;                    // (D, D): S[i][j] = sum_n v_n[i] relu(k_n[j])
  float* z = S + D * D;               // (D): sum_n relu(k_n)
  float* kt = z + D;                  // (tile, D) relu(k) or relu(q)
  float* vt = kt + kAttnTile * D;     // (tile, D) v
  const std::int64_t b = blockIdx.x / d.heads, h = blockIdx.x % d.heads, c0 = h * D;
  const T* q = d.q.row<const T>(b, 0) + c0;
  const T* k = d.k.row<const T>(b, 0) + c0;
  const T* v = d.v.row<const T>(b, 0) + c0;
  T* out = d.out.row<T>(b, 0) + c0;
  for (int e = threadIdx.x; e < D * D + D; e += blockDim.x) S[e] = 0.0f;
  // Phase 1: the fp32 key-value state and key sum.
  for (std::int64_t n0 = 0; n0 < d.n; n0 += kAttnTile) {
    const int tile = static_cast<int>(d.n - n0 < kAttnTile ? d.n - n0 : std::int64_t{kAttnTile});
    __syncthreads();
    for (int e = threadIdx.x; e < tile * D; e += blockDim.x) {
      const int t = e / D, j = e % D;
      kt[e] = feature(to_float(k[(n0 + t) * d.k.row_stride + j]), d.feature_map);
      vt[e] = to_float(v[(n0 + t) * d.v.row_stride + j]);
    }
    __syncthreads();
    for (int e = threadIdx.x; e < D * D + D; e += blockDim.x) {
      float acc = 0.0f;
      if (e < D * D) {
        const int i = e / D, j = e % D;
        for (int t = 0; t < tile; ++t) acc += vt[t * D + i] * kt[t * D + j];
      } else {
        const int j = e - D * D;
        for (int t = 0; t < tile; ++t) acc += kt[t * D + j];
      }
      S[e] += acc;
    }
  }
  // Phase 2: out_n[i] = (S relu(q_n))[i] / (z . relu(q_n) + eps).
  for (std::int64_t n0 = 0; n0 < d.n; n0 += kAttnTile) {
    const int tile = static_cast<int>(d.n - n0 < kAttnTile ? d.n - n0 : std::int64_t{kAttnTile});
    __syncthreads();
    for (int e = threadIdx.x; e < tile * D; e += blockDim.x) {
      const int t = e / D, j = e % D;
      kt[e] = feature(to_float(q[(n0 + t) * d.q.row_stride + j]), d.feature_map);
    }
    __syncthreads();
    for (int e = threadIdx.x; e < tile * D; e += blockDim.x) {
      const int t = e / D, i = e % D;
      const float* qt = kt + t * D;
      float num = 0.0f, den = 0.0f;
      for (int j = 0; j < D; ++j) {
        num += S[i * D + j] * qt[j];
        den += z[j] * qt[j];
      }
      out[(n0 + t) * d.out.row_stride + i] = convert<T>(num / (den + d.eps));
    }
  }
}

// ---- masked softmax: one warp per row ---------------------------------------------------------------

template <class T>
__global__ void softmax_kernel(SoftmaxDesc d) {
  const std::int64_t rows = d.batch * d.rows;
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const std::int64_t b = row / d.rows;
  T* x = static_cast<T*>(d.x) + row * d.l;
  const T* bias = d.bias ? d.bias.row<const T>(b, 0) : nullptr;
  auto score = [&](std::int64_t j) { return d.scale * to_float(x[j]) + (bias ? to_float(bias[j]) : 0.0f); };
  float mx = -INFINITY;
  for (std::int64_t j = lane; j < d.l; j += 32) mx = fmaxf(mx, score(j));
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  float sum = 0.0f;
  for (std::int64_t j = lane; j < d.l; j += 32) sum += expf(score(j) - mx);
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  const float inv = 1.0f / sum;
  for (std::int64_t j = lane; j < d.l; j += 32) x[j] = convert<T>(expf(score(j) - mx) * inv);
}

// ---- depthwise 3x3 + GLU: one thread per output element ---------------------------------------------

template <class T>
__global__ void depthwise_glu_kernel(DepthwiseGluDesc d, std::int64_t row_begin, std::int64_t rows) {
  const std::int64_t F = d.f, C2 = 2 * F, total = d.batch * rows * d.w * F;
  const T* u = static_cast<const T*>(d.u);
  const T* w = static_cast<const T*>(d.weight);
  const T* bias = static_cast<const T*>(d.bias);
  SANA_DIT_GRID_STRIDE_LOOP(e, total) {
    const std::int64_t c = e % F, j = (e / F) % d.w, i = row_begin + (e / (F * d.w)) % rows, b = e / (F * d.w * rows);
    float a = bias ? to_float(bias[c]) : 0.0f, g = bias ? to_float(bias[F + c]) : 0.0f;
    for (int ky = 0; ky < 3; ++ky) {
      const std::int64_t ii = i + ky - 1;
      if (ii < 0 || ii >= d.h) continue;
      for (int kx = 0; kx < 3; ++kx) {
        const std::int64_t jj = j + kx - 1;
        if (jj < 0 || jj >= d.w) continue;
        const T* up = u + ((b * d.h + ii) * d.w + jj) * C2;
        a += to_float(w[c * 9 + ky * 3 + kx]) * to_float(up[c]);
        g += to_float(w[(F + c) * 9 + ky * 3 + kx]) * to_float(up[F + c]);
      }
    }
    static_cast<T*>(d.y)[((b * d.h + i) * d.w + j) * F + c] = convert<T>(a * (g / (1.0f + expf(-g))));
  }
}

// ---- gated residual ---------------------------------------------------------------------------------

template <class T>
__global__ void gated_residual_kernel(GatedResidualDesc d) {
  const std::int64_t total = d.batch * d.rows * d.c;
  SANA_DIT_GRID_STRIDE_LOOP(e, total) {
    const std::int64_t c = e % d.c, r = e / d.c, b = r / d.rows;
    const float y = to_float(d.y.row<const T>(b, r % d.rows)[c]);
    const float g = d.gate ? to_float(d.gate.row<const T>(b, 0)[c]) : 1.0f;
    T* x = static_cast<T*>(d.x) + e;
    *x = convert<T>(to_float(*x) + g * y);
  }
}

} // namespace
} // namespace cuda::detail

using namespace cuda::detail;

void kernels<cuda_backend>::run(cuda::Context& ctx, const ModulatedLayerNormDesc& d) {
  const std::int64_t rows = d.batch * d.rows;
  check(rows < (std::int64_t{1} << 31), "layer_norm_modulated", rows, " rows exceed one grid");
  dispatch_float(d.dtype, "layer_norm_modulated", [&](auto tag) {
    layer_norm_kernel<decltype(tag)><<<static_cast<unsigned>(rows), kRowBlock, 0, cuda::stream_of(ctx)>>>(d);
    SANA_CUDA_CHECK_LAUNCH("layer_norm_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const RmsNormDesc& d) {
  check(d.rows < (std::int64_t{1} << 31), "rms_norm", d.rows, " rows exceed one grid");
  dispatch_float(d.dtype, "rms_norm", [&](auto tag) {
    rms_norm_kernel<decltype(tag)><<<static_cast<unsigned>(d.rows), kRowBlock, 0, cuda::stream_of(ctx)>>>(d);
    SANA_CUDA_CHECK_LAUNCH("rms_norm_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const LinearAttentionDesc& d) {
  const std::size_t smem = static_cast<std::size_t>(d.head_dim * d.head_dim + d.head_dim + 2 * kAttnTile * d.head_dim) *
                           sizeof(float);
  check(smem <= 48 * 1024, "linear_attention", "head dim ", d.head_dim, " needs more shared memory than 48 KiB");
  dispatch_float(d.dtype, "linear_attention", [&](auto tag) {
    linear_attention_kernel<decltype(tag)>
        <<<static_cast<unsigned>(d.batch * d.heads), kRowBlock, smem, cuda::stream_of(ctx)>>>(d);
    SANA_CUDA_CHECK_LAUNCH("linear_attention_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const SoftmaxDesc& d) {
  const std::int64_t rows = d.batch * d.rows, per_block = kRowBlock / 32;
  dispatch_float(d.dtype, "softmax", [&](auto tag) {
    softmax_kernel<decltype(tag)>
        <<<static_cast<unsigned>((rows + per_block - 1) / per_block), kRowBlock, 0, cuda::stream_of(ctx)>>>(d);
    SANA_CUDA_CHECK_LAUNCH("softmax_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const DepthwiseGluDesc& d) {
  const std::int64_t r0 = d.row_begin, rows = (d.row_end < 0 ? d.h : d.row_end) - r0;
  dispatch_float(d.dtype, "depthwise_glu", [&](auto tag) {
    depthwise_glu_kernel<decltype(tag)>
        <<<grid_for(d.batch * rows * d.w * d.f), kBlock, 0, cuda::stream_of(ctx)>>>(d, r0, rows);
    SANA_CUDA_CHECK_LAUNCH("depthwise_glu_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const GatedResidualDesc& d) {
  dispatch_float(d.dtype, "gated_residual", [&](auto tag) {
    gated_residual_kernel<decltype(tag)><<<grid_for(d.batch * d.rows * d.c), kBlock, 0, cuda::stream_of(ctx)>>>(d);
    SANA_CUDA_CHECK_LAUNCH("gated_residual_kernel");
  });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
