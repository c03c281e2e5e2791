/// @file
/// Element-wise ops: broadcasting add/sub/mul/div, activations, linear combinations, and
/// `copy` (any strides, dtype conversion with round-to-nearest-even).
#pragma once

#include <initializer_list>
#include <span>

#include "sana/core/tensor_view.hpp"
#include "sana/ops/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace ops {

namespace detail {
template <class Ctx, class T, std::size_t R>
void binary_impl(Ctx& ctx, BinaryOp op, const char* name, const TensorView<const T, R, space_of<Ctx>>& a,
                 const TensorView<const T, R, space_of<Ctx>>& b, const TensorView<T, R, space_of<Ctx>>& out) {
  static_assert(FloatElement<T>, "binary ops need float, f16 or bf16");
  for (std::size_t d = 0; d < R; ++d) {
    check(a.size(d) == out.size(d) || a.size(d) == 1, name, "a ", shape_string(a.shape()), " does not broadcast to ",
          shape_string(out.shape()));
    check(b.size(d) == out.size(d) || b.size(d) == 1, name, "b ", shape_string(b.shape()), " does not broadcast to ",
          shape_string(out.shape()));
  }
  BinaryDesc d;
  d.op = op;
  d.a = raw(a);
  d.b = raw(b);
  d.out = raw(out);
  if (out.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}
} // namespace detail

#define SANA_DEFINE_BINARY_OP(fn, OP)                                                                                \
  /** out = a OP b, numpy broadcasting over size-1 dimensions; out may alias a or b. */                            \
  template <class Ctx, class T, std::size_t R>                                                                     \
  void fn(Ctx& ctx, std::type_identity_t<TensorView<const T, R, space_of<Ctx>>> a,                                 \
          std::type_identity_t<TensorView<const T, R, space_of<Ctx>>> b, TensorView<T, R, space_of<Ctx>> out) {     \
    detail::binary_impl<Ctx, T, R>(ctx, BinaryOp::OP, #fn, a, b, out);                                             \
  }
SANA_DEFINE_BINARY_OP(add, Add)
SANA_DEFINE_BINARY_OP(sub, Sub)
SANA_DEFINE_BINARY_OP(mul, Mul)
SANA_DEFINE_BINARY_OP(div, Div)
#undef SANA_DEFINE_BINARY_OP

/// out = act(x) element-wise; contiguous; out may be x.
template <class Ctx, class T, std::size_t R>
void activation(Ctx& ctx, std::type_identity_t<TensorView<const T, R, space_of<Ctx>>> x, TensorView<T, R, space_of<Ctx>> out,
                Activation act) {
  static_assert(FloatElement<T>, "[activation] element type must be float, f16 or bf16");
  check(x.shape() == out.shape(), "activation", "input ", shape_string(x.shape()), " and output ",
        shape_string(out.shape()), " differ");
  check(x.is_contiguous() && out.is_contiguous(), "activation", "input and output must be contiguous");
  ActivationDesc d;
  d.act = act;
  d.dtype = dtype_of_v<T>;
  d.n = x.numel();
  d.x = x.data();
  d.y = out.data();
  if (d.n == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// out = min(max(x, lo), hi) element-wise (NaN stays NaN); contiguous; out may be x.
template <class Ctx, class T, std::size_t R>
void clamp(Ctx& ctx, std::type_identity_t<TensorView<const T, R, space_of<Ctx>>> x, TensorView<T, R, space_of<Ctx>> out,
           float lo, float hi) {
  static_assert(FloatElement<T>, "[clamp] element type must be float, f16 or bf16");
  check(x.shape() == out.shape(), "clamp", "input ", shape_string(x.shape()), " and output ", shape_string(out.shape()),
        " differ");
  check(x.is_contiguous() && out.is_contiguous(), "clamp", "input and output must be contiguous");
  check(lo <= hi, "clamp", "lo ", lo, " exceeds hi ", hi);
  ClampDesc d;
  d.dtype = dtype_of_v<T>;
  d.n = x.numel();
  d.lo = lo;
  d.hi = hi;
  d.x = x.data();
  d.y = out.data();
  if (d.n == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// out = Σ coef[i] · x[i] (fp32 accumulation); all contiguous and the same shape; out may alias any x[i].
template <class Ctx, class T, std::size_t R>
void lincomb(Ctx& ctx, std::span<const float> coef,
             std::span<const std::type_identity_t<TensorView<const T, R, space_of<Ctx>>>> x,
             TensorView<T, R, space_of<Ctx>> out) {
  static_assert(FloatElement<T>, "[lincomb] element type must be float, f16 or bf16");
  check(coef.size() == x.size(), "lincomb", coef.size(), " coefficients for ", x.size(), " tensors");
  check(!x.empty() && x.size() <= static_cast<std::size_t>(kMaxLincombTerms), "lincomb", "between 1 and ",
        kMaxLincombTerms, " terms are supported, got ", x.size());
  check(out.is_contiguous(), "lincomb", "output must be contiguous");
  LincombDesc d;
  d.dtype = dtype_of_v<T>;
  d.n = out.numel();
  d.terms = static_cast<int>(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    check(x[i].shape() == out.shape() && x[i].is_contiguous(), "lincomb", "term ", i, " ", shape_string(x[i].shape()),
          " must be contiguous with the output's shape ", shape_string(out.shape()));
    d.x[i] = x[i].data();
    d.coef[i] = coef[i];
  }
  d.y = out.data();
  if (d.n == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// dst = src with any strides on both sides; converts the dtype (round to nearest even) when they differ.
template <class Ctx, class S, class D, std::size_t R>
void copy(Ctx& ctx, const TensorView<S, R, space_of<Ctx>>& src, const TensorView<D, R, space_of<Ctx>>& dst) {
  static_assert(!std::is_const_v<D>, "[copy] destination must be mutable");
  check(src.shape() == dst.shape(), "copy", "source ", shape_string(src.shape()), " and destination ",
        shape_string(dst.shape()), " differ");
  CopyDesc d;
  d.src = raw(src);
  d.dst = raw(dst);
  if (dst.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

} // namespace ops
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
