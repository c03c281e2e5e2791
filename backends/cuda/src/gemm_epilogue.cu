/// @file
/// GEMM follow-up epilogue: C = act(T + bias) + beta * C, one rounding to C's dtype.

#include "check.hpp"
#include "device_common.cuh"
#include "gemm_epilogue.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda::detail {

namespace {
template <class T>
__global__ void gemm_epilogue_kernel(GemmEpilogueArgs p, const T* __restrict__ bias, T* c) {
  const std::int64_t total = p.batch * p.m * p.n;
  for (std::int64_t e = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t j = e % p.n;
    const std::int64_t r = e / p.n;
    const std::int64_t i = r % p.m;
    const std::int64_t b = r / p.m;
    float v = p.t ? p.t[b * p.stride_t + i * p.ldt + j] : 0.0f;
    if (bias) v += to_float(bias[j]);
    v = activate(p.act, v);
    T* cp = c + b * p.stride_c + i * p.ldc + j;
    if (p.beta != 0.0f) v += p.beta * to_float(*cp);
    *cp = convert<T>(v);
  }
}

template <class T>
void launch_typed(cudaStream_t stream, const GemmEpilogueArgs& p) {
  const std::int64_t total = p.batch * p.m * p.n;
  gemm_epilogue_kernel<T><<<grid_for(total), kBlock, 0, stream>>>(p, static_cast<const T*>(p.bias),
                                                                   static_cast<T*>(p.c));
  SANA_CUDA_CHECK_LAUNCH("gemm_epilogue_kernel");
}
} // namespace

void launch_gemm_epilogue(cudaStream_t stream, const GemmEpilogueArgs& p) {
  if (p.batch <= 0 || p.m <= 0 || p.n <= 0) return;
  dispatch_float(p.dtype, "gemm", [&](auto tag) { launch_typed<decltype(tag)>(stream, p); });
}

} // namespace cuda::detail
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
