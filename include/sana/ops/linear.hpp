/// @file
/// `ops::linear` (y = act(x W^T + b), a torch.nn.Linear with a fused epilogue) and `ops::matmul`
/// (batched C = alpha A B + beta C, transposes expressed by the views' strides).
#pragma once

#include <type_traits>

#include "sana/core/tensor_view.hpp"
#include "sana/ops/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace ops {

namespace detail {
template <class Ctx, class T, std::size_t R>
void linear_impl(Ctx& ctx, const TensorView<const T, R, space_of<Ctx>>& x, const TensorView<const T, 2, space_of<Ctx>>& w,
                 const T* bias, std::int64_t bias_len, const TensorView<T, R, space_of<Ctx>>& out, Activation act) {
  static_assert(R >= 1, "[linear] input needs at least one dimension");
  static_assert(FloatElement<T>, "[linear] element type must be float, f16 or bf16");
  const std::int64_t k = x.size(R - 1), n = w.size(0);
  check(w.size(1) == k, "linear", "weight ", shape_string(w.shape()), " does not match input features ", k, " of input ",
        shape_string(x.shape()));
  check(w.stride(1) == 1 || k <= 1, "linear", "weight rows must be contiguous");
  check(out.size(R - 1) == n, "linear", "output ", shape_string(out.shape()), " last dimension is not ", n);
  for (std::size_t d = 0; d + 1 < R; ++d)
    check(out.size(d) == x.size(d), "linear", "output ", shape_string(out.shape()), " does not match input ",
          shape_string(x.shape()), " in dimension ", d);
  check(bias == nullptr || bias_len == n, "linear", "bias has ", bias_len, " elements, expected ", n);
  GemmDesc d;
  d.dtype = dtype_of_v<T>;
  std::int64_t mo = 0;
  check(detail::as_matrix(x, d.m, d.lda), "linear", "input ", shape_string(x.shape()), " rows are not evenly strided");
  check(detail::as_matrix(out, mo, d.ldc), "linear", "output ", shape_string(out.shape()), " rows are not evenly strided");
  d.n = n;
  d.k = k;
  d.a = x.data();
  d.b = w.data();
  d.ldb = w.size(0) > 1 ? w.stride(0) : k;
  d.trans_b = true;
  d.c = out.data();
  d.bias = bias;
  d.act = act;
  if (d.m == 0 || n == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}
} // namespace detail

/// out (..., N) = act(x (..., K) · weight (N, K)^T). Rows of x/out may be strided; weight rows contiguous.
template <class Ctx, class T, std::size_t R>
void linear(Ctx& ctx, std::type_identity_t<TensorView<const T, R, space_of<Ctx>>> x,
            std::type_identity_t<TensorView<const T, 2, space_of<Ctx>>> weight, TensorView<T, R, space_of<Ctx>> out,
            Activation act = Activation::None) {
  detail::linear_impl<Ctx, T, R>(ctx, x, weight, nullptr, 0, out, act);
}

/// out (..., N) = act(x (..., K) · weight (N, K)^T + bias (N)).
template <class Ctx, class T, std::size_t R>
void linear(Ctx& ctx, std::type_identity_t<TensorView<const T, R, space_of<Ctx>>> x,
            std::type_identity_t<TensorView<const T, 2, space_of<Ctx>>> weight,
            std::type_identity_t<TensorView<const T, 1, space_of<Ctx>>> bias, TensorView<T, R, space_of<Ctx>> out,
            Activation act = Activation::None) {
  check(bias.stride(0) == 1 || bias.size(0) <= 1, "linear", "bias must be contiguous");
  detail::linear_impl<Ctx, T, R>(ctx, x, weight, bias.data(), bias.size(0), out, act);
}

/// Batched matrix product out (Bt, M, N) = alpha · a (Bt, M, K) · b (Bt, K, N) + beta · out.
/// a and b may be transposed views (unit stride in either of their last two dimensions);
/// a batch stride of 0 broadcasts one matrix over the batch.
template <class Ctx, class T>
void matmul(Ctx& ctx, std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> a,
            std::type_identity_t<TensorView<const T, 3, space_of<Ctx>>> b, TensorView<T, 3, space_of<Ctx>> out,
            float alpha = 1.0f, float beta = 0.0f) {
  static_assert(FloatElement<T>, "[matmul] element type must be float, f16 or bf16");
  const std::int64_t bt = out.size(0), m = out.size(1), n = out.size(2), k = a.size(2);
  check(a.size(0) == bt && b.size(0) == bt, "matmul", "batch sizes differ: a ", shape_string(a.shape()), ", b ",
        shape_string(b.shape()), ", out ", shape_string(out.shape()));
  check(a.size(1) == m && b.size(1) == k && b.size(2) == n, "matmul", "shapes do not chain: a ", shape_string(a.shape()),
        " · b ", shape_string(b.shape()), " -> out ", shape_string(out.shape()));
  check(out.stride(2) == 1 || n <= 1, "matmul", "output rows must be contiguous");
  GemmDesc d;
  d.dtype = dtype_of_v<T>;
  d.batch = bt;
  d.m = m;
  d.n = n;
  d.k = k;
  auto layout = [](const auto& v, std::int64_t rows, std::int64_t cols, bool& trans, std::int64_t& ld, const char* name) {
    if (v.stride(2) == 1 || cols <= 1) {
      trans = false;
      ld = rows > 1 ? v.stride(1) : cols;
      if (ld < cols) ld = cols;
    } else if (v.stride(1) == 1 || rows <= 1) {
      trans = true;
      ld = cols > 1 ? v.stride(2) : rows;
      if (ld < rows) ld = rows;
    } else {
      fail("matmul", name, " ", shape_string(v.shape()), " has no unit stride in its last two dimensions");
    }
  };
  layout(a, m, k, d.trans_a, d.lda, "a");
  layout(b, k, n, d.trans_b, d.ldb, "b");
  d.a = a.data();
  d.b = b.data();
  d.stride_a = a.stride(0);
  d.stride_b = b.stride(0);
  d.c = out.data();
  d.ldc = m > 1 ? out.stride(1) : n;
  d.stride_c = out.stride(0);
  d.alpha = alpha;
  d.beta = beta;
  if (bt == 0 || m == 0 || n == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

} // namespace ops
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
