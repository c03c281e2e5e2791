/// @file
/// How a generic op reaches a backend: `kernels<B>::op` if the backend has it, else (host
/// backends only) the reference kernel, so a new backend can start with a few ops and grow.
#pragma once

#include <type_traits>

#include "sana/backend/descriptors.hpp"
#include "sana/backend/reference/kernels.hpp"  // reference::run overloads for every op
#include "sana/backend/traits.hpp"
#include "sana/core/error.hpp"
#include "sana/core/shape.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// The backend tag of a context type (every context names its backend).
template <class Ctx>
using backend_of = typename std::remove_cvref_t<Ctx>::backend_type;

/// Memory space of the backend that owns a context.
template <class Ctx>
using space_of = space_t<backend_of<Ctx>>;

namespace ops::detail {

/// Whether backend B's kernel table has an entry for descriptor type Desc.
template <class B, class Desc>
concept has_kernel = requires(context_t<B>& c, const Desc& d) { kernels<B>::run(c, d); };

/// Runs the op described by `d` on backend B: its own kernel if it has one, else (host backends
/// only) the reference kernel `reference::run(d)`. A device backend without the kernel does not compile.
template <class B, class Desc>
void run(context_t<B>& ctx, const Desc& d) {
  if constexpr (has_kernel<B, Desc>) {
    kernels<B>::run(ctx, d);
  } else {
    static_assert(is_host_backend_v<B>, "this device backend has no kernel for the descriptor type (see the error's Desc)");
    reference::run(d);
  }
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

/// The StridedRows of a (batch, rows, cols) view, or of a (batch, cols) view as one row per batch item
/// (rows of a modulation table, a key bias), after checking that its last dimension is contiguous.
template <class V>
StridedRows strided_rows(const V& v, const char* op, const char* name) {
  constexpr std::size_t R = V::rank;
  static_assert(R == 2 || R == 3, "strided_rows takes (batch, cols) or (batch, rows, cols) views");
  check(v.stride(R - 1) == 1 || v.size(R - 1) <= 1, op, name, " ", shape_string(v.shape()),
        " needs contiguous channels (last dimension)");
  StridedRows s;
  s.data = const_cast<void*>(static_cast<const void*>(v.data()));
  s.batch_stride = v.stride(0);
  s.row_stride = R == 3 ? v.stride(1) : 0;
  return s;
}

/// The StridedRows of any view whose leading dimensions collapse into `rows` evenly strided rows (batch 1).
template <class V>
StridedRows flat_rows(const V& v, std::int64_t& rows, const char* op, const char* name) {
  StridedRows s;
  check(as_matrix(v, rows, s.row_stride), op, name, " ", shape_string(v.shape()), " rows are not evenly strided");
  s.data = const_cast<void*>(static_cast<const void*>(v.data()));
  return s;
}

} // namespace ops::detail
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
