/// @file
/// Reference batched GEMM with bias / activation / beta epilogue (see GemmDesc). fp32 accumulation.
#pragma once

#include <cstdint>
#include <vector>

#include "sana/backend/descriptors.hpp"
#include "sana/backend/reference/activation.hpp"
#include "sana/backend/reference/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {

namespace detail {
template <class T>
void gemm_typed(const GemmDesc& d) {
  const T* A = static_cast<const T*>(d.a);
  const T* B = static_cast<const T*>(d.b);
  const T* bias = static_cast<const T*>(d.bias);
  T* C = static_cast<T*>(d.c);
  std::vector<float> bt(static_cast<std::size_t>(d.k * d.n));  // op(B) as fp32, k-major
  std::vector<float> arow(static_cast<std::size_t>(d.k));
  std::vector<float> acc(static_cast<std::size_t>(d.n));
  for (std::int64_t b = 0; b < d.batch; ++b) {
    const T* Ab = A + b * d.stride_a;
    const T* Bb = B + b * d.stride_b;
    T* Cb = C + b * d.stride_c;
    for (std::int64_t p = 0; p < d.k; ++p)
      for (std::int64_t j = 0; j < d.n; ++j)
        bt[p * d.n + j] = to_float(d.trans_b ? Bb[j * d.ldb + p] : Bb[p * d.ldb + j]);
    for (std::int64_t i = 0; i < d.m; ++i) {
      for (std::int64_t p = 0; p < d.k; ++p) arow[p] = to_float(d.trans_a ? Ab[p * d.lda + i] : Ab[i * d.lda + p]);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (std::int64_t p = 0; p < d.k; ++p) {
        const float a = arow[p];
        const float* brow = &bt[p * d.n];
        for (std::int64_t j = 0; j < d.n; ++j) acc[j] += a * brow[j];
      }
      T* crow = Cb + i * d.ldc;
      for (std::int64_t j = 0; j < d.n; ++j) {
        float v = d.alpha * acc[j];
        if (bias) v += to_float(bias[j]);
        v = apply_activation(d.act, v);
        if (d.beta != 0.0f) v += d.beta * to_float(crow[j]);
        crow[j] = convert<T>(v);
      }
    }
  }
}
} // namespace detail

inline void run(const GemmDesc& d) {
  dispatch_float(d.dtype, "gemm", [&](auto tag) { detail::gemm_typed<decltype(tag)>(d); });
}

} // namespace reference
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
