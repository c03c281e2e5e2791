/// @file
/// How a generic op reaches a backend: `kernels<B>::op` if the backend has it, else (host
/// backends only) the reference kernel, so a new backend can start with a few ops and grow.
#pragma once

#include <type_traits>

#include "sana/backend/descriptors.hpp"
#include "sana/backend/reference/kernels.hpp"
#include "sana/backend/traits.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// The backend tag of a context type (every context names its backend).
template <class Ctx>
using backend_of = typename std::remove_cvref_t<Ctx>::backend_type;

/// Memory space of the backend that owns a context.
template <class Ctx>
using space_of = space_t<backend_of<Ctx>>;

namespace ops::detail {

template <class B> concept has_gemm = requires(context_t<B>& c, const GemmDesc& d) { kernels<B>::gemm(c, d); };
template <class B> concept has_conv2d = requires(context_t<B>& c, const Conv2dDesc& d) { kernels<B>::conv2d(c, d); };
template <class B> concept has_binary = requires(context_t<B>& c, const BinaryDesc& d) { kernels<B>::binary(c, d); };
template <class B>
concept has_activation = requires(context_t<B>& c, const ActivationDesc& d) { kernels<B>::activation(c, d); };
template <class B> concept has_lincomb = requires(context_t<B>& c, const LincombDesc& d) { kernels<B>::lincomb(c, d); };
template <class B> concept has_copy = requires(context_t<B>& c, const CopyDesc& d) { kernels<B>::copy(c, d); };

template <class B>
inline constexpr bool can_fall_back = is_host_backend_v<B>;

template <class B>
void run(context_t<B>& ctx, const GemmDesc& d) {
  if constexpr (has_gemm<B>) kernels<B>::gemm(ctx, d);
  else { static_assert(can_fall_back<B>, "backend has no gemm kernel"); reference::gemm(d); }
}
template <class B>
void run(context_t<B>& ctx, const Conv2dDesc& d) {
  if constexpr (has_conv2d<B>) kernels<B>::conv2d(ctx, d);
  else { static_assert(can_fall_back<B>, "backend has no conv2d kernel"); reference::conv2d(d); }
}
template <class B>
void run(context_t<B>& ctx, const BinaryDesc& d) {
  if constexpr (has_binary<B>) kernels<B>::binary(ctx, d);
  else { static_assert(can_fall_back<B>, "backend has no binary kernel"); reference::binary(d); }
}
template <class B>
void run(context_t<B>& ctx, const ActivationDesc& d) {
  if constexpr (has_activation<B>) kernels<B>::activation(ctx, d);
  else { static_assert(can_fall_back<B>, "backend has no activation kernel"); reference::activation(d); }
}
template <class B>
void run(context_t<B>& ctx, const LincombDesc& d) {
  if constexpr (has_lincomb<B>) kernels<B>::lincomb(ctx, d);
  else { static_assert(can_fall_back<B>, "backend has no lincomb kernel"); reference::lincomb(d); }
}
template <class B>
void run(context_t<B>& ctx, const CopyDesc& d) {
  if constexpr (has_copy<B>) kernels<B>::copy(ctx, d);
  else { static_assert(can_fall_back<B>, "backend has no copy kernel"); reference::copy(d); }
}

/// Rows of a (..., K) view collapse to one (M, K) matrix with row stride `ld` and unit column stride.
template <class V>
bool as_matrix(const V& v, std::int64_t& m, std::int64_t& ld) {
  constexpr std::size_t R = V::rank;
  const std::int64_t k = v.size(R - 1);
  if (v.stride(R - 1) != 1 && k > 1) return false;
  ld = (R >= 2 && v.size(R - 2) > 1) ? v.stride(R - 2) : k;
  m = 1;
  std::int64_t expect = ld;
  for (std::size_t d = R - 1; d-- > 0;) {
    if (v.size(d) != 1 && v.stride(d) != expect) return false;
    expect *= v.size(d);
    m *= v.size(d);
  }
  return m <= 1 || ld >= k;
}

} // namespace ops::detail
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
