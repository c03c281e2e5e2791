/// @file
/// Shared pieces of the backend's kernels: dtype dispatch on the host, activations and grid sizing.
/// Element loads and stores go through sana::to_float / sana::convert (dtype.hpp), so the rounding
/// (to nearest even, NaN kept) is bit-identical to the reference backend.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>

#include <cuda_runtime.h>

#include "sana/backend/descriptors.hpp"
#include "sana/core/dtype.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda::detail {

inline constexpr int kBlock = 256;

/// Blocks for a grid-stride loop over n elements (capped; the loop covers the rest).
inline unsigned grid_for(std::int64_t n, int block = kBlock) {
  const std::int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned>(std::clamp<std::int64_t>(blocks, 1, std::int64_t{1} << 20));
}

/// Calls f(T{}) with T the storage type of a floating dtype.
template <class F>
void dispatch_float(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::F32: f(float{}); return;
    case DType::F16: f(f16{}); return;
    case DType::BF16: f(bf16{}); return;
    default: fail(op, "unsupported dtype ", dtype_name(t), " (expected f32, f16 or bf16)");
  }
}

/// Like dispatch_float, plus the integer dtypes (for copies).
template <class F>
void dispatch_any(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::F32: f(float{}); return;
    case DType::F16: f(f16{}); return;
    case DType::BF16: f(bf16{}); return;
    case DType::I32: f(std::int32_t{}); return;
    case DType::I64: f(std::int64_t{}); return;
    case DType::U8: f(std::uint8_t{}); return;
  }
  fail(op, "unknown dtype");
}

/// The activations of descriptors.hpp, in fp32 (same formulas as the reference backend).
__device__ __forceinline__ float activate(Activation act, float x) {
  switch (act) {
    case Activation::None: return x;
    case Activation::ReLU: return x > 0.0f ? x : 0.0f;
    case Activation::SiLU: return x / (1.0f + expf(-x));
    case Activation::GELUTanh: {
      constexpr float k = 0.7978845608028654f;  // sqrt(2/pi)
      return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
  }
  return x;
}

} // namespace cuda::detail
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
