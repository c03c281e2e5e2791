/// @file
/// Kernel descriptors: plain structs of pointers, sizes and flags that every backend's kernels take.
/// They hold no templates and no backend types, so compiled backends declare non-template entry points.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"
#include "sana/core/tensor_view.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

inline constexpr int kMaxRank = 6;

/// Pointer + dtype + shape + strides (elements) of any rank up to kMaxRank.
struct RawTensor {
  void* data = nullptr;
  DType dtype = DType::F32;
  int rank = 0;
  std::array<std::int64_t, kMaxRank> sizes{};
  std::array<std::int64_t, kMaxRank> strides{};

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= sizes[i];
    return n;
  }
  bool is_contiguous() const {
    std::int64_t expect = 1;
    for (int i = rank; i-- > 0;) {
      if (sizes[i] != 1 && strides[i] != expect) return false;
      expect *= sizes[i];
    }
    return true;
  }
};

template <class T, std::size_t Rank, class Space>
RawTensor raw(const TensorView<T, Rank, Space>& v) {
  static_assert(Rank <= kMaxRank, "rank above kMaxRank");
  RawTensor r;
  r.data = const_cast<std::remove_const_t<T>*>(v.data());
  r.dtype = dtype_of_v<std::remove_const_t<T>>;
  r.rank = static_cast<int>(Rank);
  for (std::size_t i = 0; i < Rank; ++i) {
    r.sizes[i] = v.size(i);
    r.strides[i] = v.stride(i);
  }
  return r;
}

/// One operand of a row-wise kernel, seen as (batch, rows, cols) with contiguous cols: element (b, r, c) is at
/// data + b * batch_stride + r * row_stride + c (in elements). The descriptors of the norms, the linear
/// attention, the softmax bias and the gated residual carry every operand that may be a slice of a larger
/// tensor (q/k/v of one fused projection, rows of a modulation table) as one of these, filled from a view by
/// ops::detail::strided_rows. Inputs are only read through it.
struct StridedRows {
  void* data = nullptr;
  std::int64_t batch_stride = 0, row_stride = 0;

  SANA_HOST_DEVICE explicit operator bool() const { return data != nullptr; }
  /// Row r of batch item b as a T pointer (T const for inputs).
  template <class T>
  SANA_HOST_DEVICE T* row(std::int64_t b, std::int64_t r) const {
    return static_cast<T*>(data) + b * batch_stride + r * row_stride;
  }
  /// The same operand starting at element (b, r, c): how a backend hands part of the work to a thread.
  StridedRows at(DType dtype, std::int64_t b, std::int64_t r, std::int64_t c = 0) const {
    if (!data) return *this;
    StridedRows s = *this;
    s.data = static_cast<char*>(data) +
             static_cast<std::ptrdiff_t>((b * batch_stride + r * row_stride + c) * static_cast<std::int64_t>(dtype_size(dtype)));
    return s;
  }
};

/// Activation applied in an epilogue or as an element-wise op.
enum class Activation : std::uint8_t { None, ReLU, SiLU, GELUTanh };

/// Row-major batched GEMM: C[b] = act(alpha * op(A[b]) op(B[b]) + bias) + beta * C[b].
/// op(A) is (m x k): A stored (m x k) with row stride lda, or (k x m) when trans_a.
/// op(B) is (k x n): B stored (k x n) with row stride ldb, or (n x k) when trans_b (a Linear weight).
/// bias (length n, C's dtype) may be null. A, B, C, bias share `dtype`; accumulation is fp32.
struct GemmDesc {
  DType dtype = DType::F32;
  std::int64_t batch = 1, m = 0, n = 0, k = 0;
  const void* a = nullptr;
  std::int64_t lda = 0, stride_a = 0;
  bool trans_a = false;
  const void* b = nullptr;
  std::int64_t ldb = 0, stride_b = 0;
  bool trans_b = false;
  void* c = nullptr;
  std::int64_t ldc = 0, stride_c = 0;
  const void* bias = nullptr;
  float alpha = 1.0f, beta = 0.0f;
  Activation act = Activation::None;
};

/// 2-D convolution, NCHW activations, OIHW weights (I = c_in / groups), contiguous.
/// y = act(conv(x, weight) + bias); bias may be null.
struct Conv2dDesc {
  DType dtype = DType::F32;
  std::int64_t n = 0, c_in = 0, h = 0, w = 0;
  std::int64_t c_out = 0, kh = 0, kw = 0;
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
  std::int64_t h_out = 0, w_out = 0;
  const void* x = nullptr;
  const void* weight = nullptr;
  const void* bias = nullptr;
  void* y = nullptr;
  Activation act = Activation::None;
  bool channels_last = false;  // x and y NHWC in memory (weights stay (g)OIHW)
};

enum class BinaryOp : std::uint8_t { Add, Sub, Mul, Div };

/// out = a (op) b with broadcasting: a, b and out have out's rank; a size-1 or stride-0
/// dimension of a or b broadcasts. All three share one dtype; math in fp32.
struct BinaryDesc {
  BinaryOp op = BinaryOp::Add;
  RawTensor a, b, out;
};

/// y = act(x) element-wise over n contiguous elements; y may equal x.
struct ActivationDesc {
  Activation act = Activation::None;
  DType dtype = DType::F32;
  std::int64_t n = 0;
  const void* x = nullptr;
  void* y = nullptr;
};

/// y = min(max(x, lo), hi) element-wise over n contiguous elements (NaN stays NaN, ±inf clamps); y may equal x.
/// diffusers clips fp16 activations to ±65504 with it, so an overflow to inf becomes the largest finite half.
struct ClampDesc {
  DType dtype = DType::F32;
  std::int64_t n = 0;
  float lo = 0.0f, hi = 0.0f;
  const void* x = nullptr;
  void* y = nullptr;
};

inline constexpr int kMaxLincombTerms = 8;

/// y = sum_i coef[i] * x[i] over n contiguous elements, accumulated in fp32; y may alias any x[i].
/// The samplers' updates (x_{t-1} = a x_t + b D_0 + c D_1 ...) are exactly this.
struct LincombDesc {
  DType dtype = DType::F32;
  std::int64_t n = 0;
  int terms = 0;
  std::array<const void*, kMaxLincombTerms> x{};
  std::array<float, kMaxLincombTerms> coef{};
  void* y = nullptr;
};

/// dst = src element-wise with any strides on both sides and a dtype conversion (RNE) if they differ.
struct CopyDesc {
  RawTensor src, dst;
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
