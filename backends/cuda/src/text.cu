/// @file
/// Text-encoder kernels (descriptors_text.hpp): scaled embedding lookup, Gemma RMSNorm (one block per row),
/// rotate-half RoPE, and the soft-capped masked attention softmax (one block per score row). Every dtype
/// rounding step of the reference kernels is repeated here, so 16-bit results match it to an ulp.

#include <cstdint>

#include "check.hpp"
#include "context_impl.hpp"
#include "device_common.cuh"
#include "sana/backend/descriptors_text.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace cuda::detail {
namespace {

#define SANA_TEXT_GRID_STRIDE_LOOP(i, n)                                                          \
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

template <class T>
__device__ __forceinline__ float round_to(float v) {
  return to_float(convert<T>(v));
}

/// Sum (or max) over the block; every thread gets the result. blockDim.x is a multiple of 32, at most 1024.
template <bool Max>
__device__ float block_reduce(float v) {
  __shared__ float partial[32];
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = Max ? fmaxf(v, other) : v + other;
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads();  // partial[] may still be read by a previous reduction
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < warps ? partial[lane] : (Max ? -INFINITY : 0.0f);
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = Max ? fmaxf(v, other) : v + other;
  }
  return v;
}

template <class T>
__global__ void embedding_kernel(const std::int64_t* ids, const T* table, T* out, std::int64_t n, std::int64_t vocab,
                                 std::int64_t dim, float scale) {
  SANA_TEXT_GRID_STRIDE_LOOP(e, n * dim) {
    const std::int64_t i = e / dim, c = e % dim, id = ids[i];
    // An id outside the vocabulary cannot throw on the device: its row becomes NaN.
    out[e] = (id >= 0 && id < vocab) ? convert<T>(to_float(table[id * dim + c]) * scale) : convert<T>(NAN);
  }
}

template <class T>
__global__ void rms_norm_kernel(const T* x, std::int64_t ldx, const T* w, T* y, std::int64_t ldy, std::int64_t cols,
                                float eps) {
  const T* xr = x + static_cast<std::int64_t>(blockIdx.x) * ldx;
  T* yr = y + static_cast<std::int64_t>(blockIdx.x) * ldy;
  float ss = 0.0f;
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float v = to_float(xr[c]);
    ss += v * v;
  }
  ss = block_reduce<false>(ss);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(cols) + eps);
  for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    yr[c] = convert<T>(to_float(xr[c]) * inv * (1.0f + to_float(w[c])));
}

template <class T>
__global__ void rotary_kernel(RotaryEmbeddingDesc d) {
  const std::int64_t half = d.head_dim / 2;
  SANA_TEXT_GRID_STRIDE_LOOP(e, d.batch * d.tokens * d.heads * half) {
    const std::int64_t i = e % half;
    std::int64_t r = e / half;
    const std::int64_t h = r % d.heads;
    r /= d.heads;
    const std::int64_t t = r % d.tokens, b = r / d.tokens;
    const float inv_freq = 1.0f / powf(d.theta, static_cast<float>(2 * i) / static_cast<float>(d.head_dim));
    const float angle = static_cast<float>(d.position_offset + t) * inv_freq;
    const float c = round_to<T>(cosf(angle)), s = round_to<T>(sinf(angle));
    T* x = static_cast<T*>(d.x) + b * d.stride_b + t * d.stride_t + h * d.stride_h;
    const float x1 = to_float(x[i]), x2 = to_float(x[i + half]);
    x[i] = convert<T>(round_to<T>(x1 * c) + round_to<T>(-x2 * s));
    x[i + half] = convert<T>(round_to<T>(x2 * c) + round_to<T>(x1 * s));
  }
}

template <class T>
__global__ void attention_softmax_kernel(AttentionSoftmaxDesc d) {
  const std::int64_t row = blockIdx.x;  // over batch · heads · queries
  const std::int64_t i = row % d.queries, b = row / (d.queries * d.heads);
  T* s = static_cast<T*>(d.scores) + row * d.keys;
  const std::int64_t* km = d.key_mask ? d.key_mask + b * d.keys : nullptr;
  const std::int64_t qpos = i + d.keys - d.queries;
  auto visible = [&](std::int64_t j) {
    return (!km || km[j] != 0) && (!d.causal || j <= qpos) && (d.window <= 0 || qpos - j < d.window);
  };
  // Pass 1: soft-cap in place (the capped value is a dtype value, so storing it loses nothing) and the max.
  float mx = -INFINITY;
  for (std::int64_t j = threadIdx.x; j < d.keys; j += blockDim.x) {
    if (!visible(j)) continue;
    float v = to_float(s[j]);
    if (d.softcap > 0.0f) {
      v = round_to<T>(round_to<T>(tanhf(round_to<T>(v / d.softcap))) * d.softcap);
      s[j] = convert<T>(v);
    }
    mx = fmaxf(mx, v);
  }
  mx = block_reduce<true>(mx);
  if (mx == -INFINITY) {  // no visible key: uniform, as PyTorch's all-lowest row
    for (std::int64_t j = threadIdx.x; j < d.keys; j += blockDim.x) s[j] = convert<T>(1.0f / static_cast<float>(d.keys));
    return;
  }
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < d.keys; j += blockDim.x)
    if (visible(j)) sum += expf(to_float(s[j]) - mx);
  sum = block_reduce<false>(sum);
  const float inv = 1.0f / sum;
  for (std::int64_t j = threadIdx.x; j < d.keys; j += blockDim.x)
    s[j] = visible(j) ? convert<T>(expf(to_float(s[j]) - mx) * inv) : convert<T>(0.0f);
}

} // namespace
} // namespace cuda::detail

using namespace cuda::detail;

void kernels<cuda_backend>::run(cuda::Context& ctx, const EmbeddingLookupDesc& d) {
  if (d.n == 0 || d.dim == 0) return;
  const cudaStream_t st = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "embedding_lookup", [&](auto tag) {
    using T = decltype(tag);
    embedding_kernel<T><<<grid_for(d.n * d.dim), kBlock, 0, st>>>(d.ids, static_cast<const T*>(d.table),
                                                                  static_cast<T*>(d.out), d.n, d.vocab, d.dim, d.scale);
    SANA_CUDA_CHECK_LAUNCH("embedding_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const GemmaRmsNormDesc& d) {
  if (d.rows == 0 || d.cols == 0) return;
  check(d.rows < (std::int64_t{1} << 31), "gemma_rms_norm", "too many rows ", d.rows);
  const cudaStream_t st = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "gemma_rms_norm", [&](auto tag) {
    using T = decltype(tag);
    rms_norm_kernel<T><<<static_cast<unsigned>(d.rows), kBlock, 0, st>>>(
        d.x.row<const T>(0, 0), d.x.row_stride, static_cast<const T*>(d.weight), d.y.row<T>(0, 0), d.y.row_stride, d.cols,
        d.eps);
    SANA_CUDA_CHECK_LAUNCH("rms_norm_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const RotaryEmbeddingDesc& d) {
  check(d.head_dim % 2 == 0, "rotary_embedding", "head_dim ", d.head_dim, " is odd");
  const std::int64_t n = d.batch * d.tokens * d.heads * (d.head_dim / 2);
  if (n == 0) return;
  const cudaStream_t st = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "rotary_embedding", [&](auto tag) {
    using T = decltype(tag);
    rotary_kernel<T><<<grid_for(n), kBlock, 0, st>>>(d);
    SANA_CUDA_CHECK_LAUNCH("rotary_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const AttentionSoftmaxDesc& d) {
  const std::int64_t rows = d.batch * d.heads * d.queries;
  if (rows == 0 || d.keys == 0) return;
  check(rows < (std::int64_t{1} << 31), "attention_softmax", "too many rows ", rows);
  const cudaStream_t st = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "attention_softmax", [&](auto tag) {
    using T = decltype(tag);
    attention_softmax_kernel<T><<<static_cast<unsigned>(rows), kBlock, 0, st>>>(d);
    SANA_CUDA_CHECK_LAUNCH("attention_softmax_kernel");
  });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
