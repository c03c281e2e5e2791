/// @file
/// Reference element-wise kernels: broadcasting binary ops, activations, linear combinations, strided copy/cast.
#pragma once

#include <array>
#include <cstdint>

#include "sana/backend/descriptors.hpp"
#include "sana/backend/reference/activation.hpp"
#include "sana/backend/reference/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {

namespace detail {
/// Visits every index of `sizes` (rank r) in row-major order, passing the flat element offsets
/// of each operand computed from its strides.
template <std::size_t K, class F>
void for_each_index(int r, const std::array<std::int64_t, kMaxRank>& sizes,
                    const std::array<const std::array<std::int64_t, kMaxRank>*, K>& strides, F&& f) {
  std::int64_t total = 1;
  for (int i = 0; i < r; ++i) total *= sizes[i];
  if (total == 0) return;
  std::array<std::int64_t, kMaxRank> idx{};
  std::array<std::int64_t, K> off{};
  for (std::int64_t e = 0; e < total; ++e) {
    f(off);
    for (int d = r - 1; d >= 0; --d) {
      ++idx[d];
      for (std::size_t k = 0; k < K; ++k) off[k] += (*strides[k])[d];
      if (idx[d] < sizes[d]) break;
      for (std::size_t k = 0; k < K; ++k) off[k] -= (*strides[k])[d] * sizes[d];
      idx[d] = 0;
    }
  }
}

inline float binary_apply(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return 0.0f;
}

/// Strides with size-1 dimensions turned into broadcasts (stride 0).
inline std::array<std::int64_t, kMaxRank> broadcast_strides(const RawTensor& t) {
  auto s = t.strides;
  for (int i = 0; i < t.rank; ++i)
    if (t.sizes[i] == 1) s[i] = 0;
  return s;
}
} // namespace detail

inline void run(const BinaryDesc& d) {
  dispatch_float(d.out.dtype, "binary", [&](auto tag) {
    using T = decltype(tag);
    const T* a = static_cast<const T*>(d.a.data);
    const T* b = static_cast<const T*>(d.b.data);
    T* o = static_cast<T*>(d.out.data);
    const auto sa = detail::broadcast_strides(d.a), sb = detail::broadcast_strides(d.b);
    std::array<const std::array<std::int64_t, kMaxRank>*, 3> st{&sa, &sb, &d.out.strides};
    detail::for_each_index<3>(d.out.rank, d.out.sizes, st, [&](const std::array<std::int64_t, 3>& off) {
      o[off[2]] = convert<T>(detail::binary_apply(d.op, to_float(a[off[0]]), to_float(b[off[1]])));
    });
  });
}

inline void run(const ActivationDesc& d) {
  dispatch_float(d.dtype, "activation", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(d.x);
    T* y = static_cast<T*>(d.y);
    for (std::int64_t i = 0; i < d.n; ++i) y[i] = convert<T>(apply_activation(d.act, to_float(x[i])));
  });
}

inline void run(const ClampDesc& d) {
  dispatch_float(d.dtype, "clamp", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(d.x);
    T* y = static_cast<T*>(d.y);
    for (std::int64_t i = 0; i < d.n; ++i) {
      const float v = to_float(x[i]);
      y[i] = convert<T>(v < d.lo ? d.lo : v > d.hi ? d.hi : v);  // comparisons with NaN are false: NaN passes
    }
  });
}

inline void run(const LincombDesc& d) {
  dispatch_float(d.dtype, "lincomb", [&](auto tag) {
    using T = decltype(tag);
    T* y = static_cast<T*>(d.y);
    for (std::int64_t i = 0; i < d.n; ++i) {
      float acc = 0.0f;
      for (int t = 0; t < d.terms; ++t) acc += d.coef[t] * to_float(static_cast<const T*>(d.x[t])[i]);
      y[i] = convert<T>(acc);
    }
  });
}

inline void run(const CopyDesc& d) {
  dispatch_any(d.src.dtype, "copy", [&](auto stag) {
    using S = decltype(stag);
    dispatch_any(d.dst.dtype, "copy", [&](auto dtag) {
      using D = decltype(dtag);
      const S* s = static_cast<const S*>(d.src.data);
      D* o = static_cast<D*>(d.dst.data);
      std::array<const std::array<std::int64_t, kMaxRank>*, 2> st{&d.src.strides, &d.dst.strides};
      detail::for_each_index<2>(d.dst.rank, d.dst.sizes, st,
                                [&](const std::array<std::int64_t, 2>& off) { o[off[1]] = convert<D>(s[off[0]]); });
    });
  });
}

} // namespace reference
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
