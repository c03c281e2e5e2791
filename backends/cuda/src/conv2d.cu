/// @file
/// Direct 2-D convolution: x (N, C_in, H, W), weight (C_out, C_in/groups, KH, KW), bias (C_out),
/// y (N, C_out, H_out, W_out), all contiguous; y = act(conv(x, w) + bias), fp32 accumulation.
///
/// One block computes up to 256 consecutive output pixels of one (image, output channel) plane,
/// one thread per pixel. The block stages that output channel's weights in shared memory (in chunks
/// of input channels, so any C_in fits), where every thread reads the same word (a broadcast);
/// consecutive threads read consecutive input pixels, so x loads coalesce for stride 1.
/// The sum runs over (input channel, ky, kx) in the reference backend's order.
/// Convolutions with groups == 1 do not come here: they run on tensor cores as cuBLASLt GEMMs
/// (pointwise directly, others through im2col; conv_lowering.hpp). This kernel serves the grouped and
/// depthwise ones, which are memory-bound.

#include <cstdint>

#include "check.hpp"
#include "context_impl.hpp"
#include "conv_lowering.hpp"
#include "device_common.cuh"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace cuda::detail {
namespace {

constexpr int kConvThreads = 256;
constexpr int kConvSmemFloats = 8192;  // 32 KiB of staged weights per block

struct ConvParams {
  int c_in, h, w, c_out, kh, kw;
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  int cin_g, cout_g;
  int h_out, w_out;
  int chunk;  // input channels staged per pass
  Activation act;
};

template <class T>
__global__ void __launch_bounds__(kConvThreads)
    conv2d_direct_kernel(ConvParams p, const T* __restrict__ x, const T* __restrict__ weight,
                         const T* __restrict__ bias, T* __restrict__ y) {
  __shared__ float w_s[kConvSmemFloats];
  const int co = blockIdx.y;
  const std::int64_t img = blockIdx.z;
  const std::int64_t hw_out = static_cast<std::int64_t>(p.h_out) * p.w_out;
  const std::int64_t pos = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool valid = pos < hw_out;
  const int oy = valid ? static_cast<int>(pos / p.w_out) : 0;
  const int ox = valid ? static_cast<int>(pos % p.w_out) : 0;
  const int iy0 = oy * p.stride_h - p.pad_h;
  const int ix0 = ox * p.stride_w - p.pad_w;
  const int group = co / p.cout_g;
  const int taps = p.kh * p.kw;
  const std::int64_t plane = static_cast<std::int64_t>(p.h) * p.w;
  const T* x_g = x + (img * p.c_in + static_cast<std::int64_t>(group) * p.cin_g) * plane;
  const T* w_c = weight + static_cast<std::int64_t>(co) * p.cin_g * taps;

  float acc = 0.0f;
  for (int ci0 = 0; ci0 < p.cin_g; ci0 += p.chunk) {
    const int cn = min(p.chunk, p.cin_g - ci0);
    __syncthreads();  // the previous chunk is no longer read
    for (int t = threadIdx.x; t < cn * taps; t += blockDim.x) w_s[t] = to_float(w_c[ci0 * taps + t]);
    __syncthreads();
    if (valid) {
      for (int ci = 0; ci < cn; ++ci) {
        const T* x_c = x_g + static_cast<std::int64_t>(ci0 + ci) * plane;
        const float* w_t = w_s + ci * taps;
        for (int ky = 0; ky < p.kh; ++ky) {
          const int iy = iy0 + ky * p.dil_h;
          if (iy < 0 || iy >= p.h) continue;
          const T* x_r = x_c + static_cast<std::int64_t>(iy) * p.w;
          for (int kx = 0; kx < p.kw; ++kx) {
            const int ix = ix0 + kx * p.dil_w;
            if (ix < 0 || ix >= p.w) continue;
            acc += w_t[ky * p.kw + kx] * to_float(x_r[ix]);
          }
        }
      }
    }
  }
  if (valid) {
    const float b = bias ? to_float(bias[co]) : 0.0f;
    y[(img * p.c_out + co) * hw_out + pos] = convert<T>(activate(p.act, acc + b));
  }
}

/// cols (np x K) for output pixels [p0, p0 + np) of one image: one thread per element, k fastest, so the
/// writes coalesce and neighbouring threads read neighbouring taps.
template <class T>
__global__ void im2col_kernel(Conv2dDesc d, const T* __restrict__ x_image, std::int64_t p0, std::int64_t np,
                              std::int64_t k_total, T* __restrict__ cols) {
  const std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= np * k_total) return;
  const std::int64_t src = im2col_source(d, p0 + i / k_total, i % k_total);
  cols[i] = src < 0 ? convert<T>(0.0f) : x_image[src];
}

/// Bytes of columns one im2col chunk may use (the grow-only `columns` buffer of the context).
constexpr std::size_t kMaxColumnBytes = std::size_t{128} << 20;

void conv2d_as_gemm(cuda::Context& ctx, const Conv2dDesc& d, const ConvLowering& l) {
  using K = kernels<cuda_backend>;
  if (d.bias) K::run(ctx, bias_fill(d));
  if (l.path == ConvPath::Pointwise) {
    K::run(ctx, pointwise_gemm(d));
  } else {
    const std::size_t es = dtype_size(d.dtype);
    void* cols = ctx.impl().columns(static_cast<std::size_t>(l.chunk * l.k) * es);
    const cudaStream_t s = cuda::stream_of(ctx);
    for (std::int64_t img = 0; img < d.n; ++img)
      for (std::int64_t p0 = 0; p0 < l.pixels; p0 += l.chunk) {
        const std::int64_t np = std::min(l.chunk, l.pixels - p0), count = np * l.k;
        const unsigned blocks = static_cast<unsigned>((count + 255) / 256);
        dispatch_float(d.dtype, "conv2d", [&](auto tag) {
          using T = decltype(tag);
          im2col_kernel<T><<<blocks, 256, 0, s>>>(d, static_cast<const T*>(d.x) + img * d.c_in * d.h * d.w, p0, np,
                                                  l.k, static_cast<T*>(cols));
        });
        SANA_CUDA_CHECK_LAUNCH("im2col_kernel");
        K::run(ctx, chunk_gemm(d, l, img, p0, np, cols));
      }
  }
  if (d.act != Activation::None) K::run(ctx, conv_activation(d));
}

template <class T>
void conv2d_typed(cudaStream_t s, const Conv2dDesc& d, const ConvParams& p) {
  const std::int64_t hw_out = d.h_out * d.w_out;
  const dim3 grid(static_cast<unsigned>((hw_out + kConvThreads - 1) / kConvThreads), static_cast<unsigned>(d.c_out),
                  static_cast<unsigned>(d.n));
  conv2d_direct_kernel<T><<<grid, kConvThreads, 0, s>>>(p, static_cast<const T*>(d.x),
                                                       static_cast<const T*>(d.weight),
                                                       static_cast<const T*>(d.bias), static_cast<T*>(d.y));
  SANA_CUDA_CHECK_LAUNCH("conv2d_direct_kernel");
}

} // namespace
} // namespace cuda::detail

using namespace cuda::detail;

void kernels<cuda_backend>::run(cuda::Context& ctx, const Conv2dDesc& d) {
  const char* op = "conv2d";
  require_nchw(d.channels_last, op);
  check(d.n >= 0 && d.c_in > 0 && d.h >= 0 && d.w >= 0 && d.c_out > 0 && d.kh > 0 && d.kw > 0, op,
        "bad sizes (n=", d.n, " c_in=", d.c_in, " h=", d.h, " w=", d.w, " c_out=", d.c_out, " kh=", d.kh, " kw=", d.kw,
        ")");
  check(d.stride_h > 0 && d.stride_w > 0 && d.dil_h > 0 && d.dil_w > 0 && d.pad_h >= 0 && d.pad_w >= 0, op,
        "bad stride / dilation / padding");
  check(d.groups > 0 && d.c_in % d.groups == 0 && d.c_out % d.groups == 0, op, "groups ", d.groups,
        " must divide c_in ", d.c_in, " and c_out ", d.c_out);
  // Like the reference, the output size is the descriptor's (the generic op derives it from the geometry);
  // taps that fall outside the input read as zero padding.
  check(d.h_out >= 0 && d.w_out >= 0, op, "negative output size ", d.h_out, "x", d.w_out);
  const std::int64_t h_out = d.h_out, w_out = d.w_out;
  if (d.n == 0 || h_out == 0 || w_out == 0) return;
  check(d.x && d.weight && d.y, op, "null x, weight or y");
  const ConvLowering lowering = plan_conv(d, kMaxColumnBytes);
  if (lowering.path != ConvPath::Direct) {
    check(static_cast<std::int64_t>(lowering.chunk) * lowering.k < (std::int64_t{1} << 40), op, "im2col chunk too large");
    conv2d_as_gemm(ctx, d, lowering);
    return;
  }
  constexpr std::int64_t kIntMax = 0x7fffffff;
  check(d.h * d.w <= kIntMax && h_out * w_out <= kIntMax && d.c_in <= kIntMax && d.c_out <= 65535 && d.n <= 65535,
        op, "sizes beyond the direct kernel's grid (c_out <= 65535, n <= 65535, planes < 2^31)");
  const std::int64_t taps = d.kh * d.kw;
  check(taps <= kConvSmemFloats, op, "kernel ", d.kh, "x", d.kw, " too large for the direct kernel");

  ConvParams p{};
  p.c_in = static_cast<int>(d.c_in);
  p.h = static_cast<int>(d.h);
  p.w = static_cast<int>(d.w);
  p.c_out = static_cast<int>(d.c_out);
  p.kh = static_cast<int>(d.kh);
  p.kw = static_cast<int>(d.kw);
  p.stride_h = static_cast<int>(d.stride_h);
  p.stride_w = static_cast<int>(d.stride_w);
  p.pad_h = static_cast<int>(d.pad_h);
  p.pad_w = static_cast<int>(d.pad_w);
  p.dil_h = static_cast<int>(d.dil_h);
  p.dil_w = static_cast<int>(d.dil_w);
  p.cin_g = static_cast<int>(d.c_in / d.groups);
  p.cout_g = static_cast<int>(d.c_out / d.groups);
  p.h_out = static_cast<int>(h_out);
  p.w_out = static_cast<int>(w_out);
  p.chunk = static_cast<int>(std::min<std::int64_t>(p.cin_g, kConvSmemFloats / taps));
  p.act = d.act;

  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, op, [&](auto tag) { conv2d_typed<decltype(tag)>(s, d, p); });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
