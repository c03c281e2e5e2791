/// @file
/// The GEMM epilogue kernel for what cuBLASLt's epilogues cannot express exactly:
///   C[b,i,j] = act(T[b,i,j] + bias[j]) + beta * C[b,i,j]
/// with T an fp32 matrix (cuBLASLt's alpha*A*B, possibly C itself when C is fp32) or absent (k == 0).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "sana/backend/descriptors.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda::detail {

struct GemmEpilogueArgs {
  DType dtype = DType::F32;  // of C and bias
  std::int64_t batch = 1, m = 0, n = 0;
  const float* t = nullptr;  // null: T = 0
  std::int64_t ldt = 0, stride_t = 0;
  const void* bias = nullptr;  // length n, may be null
  Activation act = Activation::None;
  float beta = 0.0f;  // C is read only when beta != 0
  void* c = nullptr;
  std::int64_t ldc = 0, stride_c = 0;
};

void launch_gemm_epilogue(cudaStream_t stream, const GemmEpilogueArgs& args);

} // namespace cuda::detail
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
