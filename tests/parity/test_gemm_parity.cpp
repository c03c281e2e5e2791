// linear / matmul on every compiled backend against the reference backend.
#include <catch2/catch.hpp>

#include <cmath>

#include "sana/ops.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

TEMPLATE_LIST_TEST_CASE("linear parity (bias, activations, odd and Sana shapes)", "[parity][gemm]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  struct Case { std::int64_t m, k, n; bool bias; Activation act; };
  const auto cs = GENERATE(Case{1, 1, 1, true, Activation::None}, Case{7, 13, 5, true, Activation::ReLU},
                           Case{33, 65, 17, false, Activation::SiLU}, Case{31, 70, 129, true, Activation::GELUTanh},
                           Case{64, 256, 1152, true, Activation::SiLU},    // Sana 0.6B timestep MLP (batch of rows)
                           Case{256, 1152, 1152, false, Activation::None}, // 0.6B q/k/v projection, 256 tokens (512 px)
                           Case{128, 2240, 32, true, Activation::None},    // 1.6B proj_out
                           Case{300, 2304, 1152, true, Activation::GELUTanh});  // caption projection
  INFO("m=" << cs.m << " k=" << cs.k << " n=" << cs.n << " dtype=" << dtype_name(dtype_of_v<T>));
  auto& ctx = test_context<B>();
  const float scale = 1.0f / std::sqrt(static_cast<float>(cs.k));
  auto x = random_tensor<T, 2>({cs.m, cs.k}, 1);                         // (M, K)
  auto w = random_tensor<T, 2>({cs.n, cs.k}, 2, scale);                  // (N, K)
  auto b = random_tensor<T, 1>({cs.n}, 3);                               // (N,)
  Tensor<T, 2, reference_backend> want({cs.m, cs.n});                    // (M, N)
  reference::Context rc;
  auto xd = to_backend<B>(ctx, x.view());
  auto wd = to_backend<B>(ctx, w.view());
  auto bd = to_backend<B>(ctx, b.view());
  Tensor<T, 2, B> got({cs.m, cs.n});
  if (cs.bias) {
    ops::linear(rc, x.view(), w.view(), b.view(), want.view(), cs.act);
    ops::linear(ctx, xd.view(), wd.view(), bd.view(), got.view(), cs.act);
  } else {
    ops::linear(rc, x.view(), w.view(), want.view(), cs.act);
    ops::linear(ctx, xd.view(), wd.view(), got.view(), cs.act);
  }
  require_close<T, 2>(roundtrip(got).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("linear parity on strided rows and 3-D inputs", "[parity][gemm]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  auto x = random_tensor<T, 3>({2, 9, 24}, 4);                           // (B, N, 24): use channels 4..20
  auto w = random_tensor<T, 2>({10, 16}, 5, 0.25f);                      // (10, 16)
  reference::Context rc;
  Tensor<T, 3, reference_backend> want({2, 9, 10});
  ops::linear(rc, x.view().slice(2, 4, 16), w.view(), want.view());
  auto xd = to_backend<B>(ctx, x.view());
  auto wd = to_backend<B>(ctx, w.view());
  Tensor<T, 3, B> got({2, 9, 10});
  ops::linear(ctx, xd.view().slice(2, 4, 16), wd.view(), got.view());
  require_close<T, 3>(roundtrip(got).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("matmul parity (transposes, batch broadcast, alpha, beta)", "[parity][gemm]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  struct Case { std::int64_t bt, m, k, n; bool ta, tb, bcast; float alpha, beta; };
  const auto cs = GENERATE(Case{1, 5, 3, 4, false, false, false, 1.0f, 0.0f}, Case{3, 17, 9, 11, true, false, false, 0.5f, 0.0f},
                           Case{4, 33, 32, 32, false, true, true, 1.0f, 1.0f},  // per-head 32x32 state products
                           Case{2, 64, 72, 300, false, true, false, 0.1178511f, 0.0f},  // cross-attn scores, head dim 72
                           Case{2, 19, 7, 23, true, true, false, 2.0f, -0.5f});
  INFO("bt=" << cs.bt << " m=" << cs.m << " k=" << cs.k << " n=" << cs.n << " ta=" << cs.ta << " tb=" << cs.tb);
  auto a_store = random_tensor<T, 3>(cs.ta ? Shape<3>{cs.bt, cs.k, cs.m} : Shape<3>{cs.bt, cs.m, cs.k}, 6);
  const std::int64_t bb = cs.bcast ? 1 : cs.bt;
  auto b_store = random_tensor<T, 3>(cs.tb ? Shape<3>{bb, cs.n, cs.k} : Shape<3>{bb, cs.k, cs.n}, 7, 0.3f);
  auto c0 = random_tensor<T, 3>({cs.bt, cs.m, cs.n}, 8);
  auto a_of = [&](auto v) { return cs.ta ? v.transpose(1, 2) : v; };
  auto b_of = [&](auto v) {
    auto t = cs.tb ? v.transpose(1, 2) : v;
    using V = decltype(t);
    if (!cs.bcast) return t;
    return V(t.data(), {cs.bt, cs.k, cs.n}, {0, t.stride(1), t.stride(2)});
  };
  reference::Context rc;
  Tensor<T, 3, reference_backend> want({cs.bt, cs.m, cs.n});
  std::copy(c0.data(), c0.data() + c0.numel(), want.data());
  ops::matmul(rc, a_of(a_store.view()), b_of(b_store.view()), want.view(), cs.alpha, cs.beta);
  auto ad = to_backend<B>(ctx, a_store.view());
  auto bd = to_backend<B>(ctx, b_store.view());
  auto got = to_backend<B>(ctx, c0.view());
  ops::matmul(ctx, a_of(ad.view()), b_of(bd.view()), got.view(), cs.alpha, cs.beta);
  require_close<T, 3>(roundtrip(got).view(), want.view());
}

#ifdef SANA_WITH_ONEDNN
TEST_CASE("oneDNN runs its own primitives (no silent fallback) and caches them", "[parity][onednn]") {
  onednn::Context ctx;
  auto x = random_tensor<float, 2>({16, 32}, 1);
  auto w = random_tensor<float, 2>({8, 32}, 2);
  Tensor<float, 2, onednn_backend> y({16, 8});
  TensorView<const float, 2> xv = x.view(), wv = w.view();
  for (int i = 0; i < 3; ++i) ops::linear(ctx, xv, wv, y.view());
  REQUIRE(ctx.primitives_created() == 1);
  auto img = random_tensor<bf16, 4>({1, 8, 6, 6}, 3);
  auto k = random_tensor<bf16, 4>({8, 1, 3, 3}, 4);
  Tensor<bf16, 4, onednn_backend> out({1, 8, 6, 6});
  ops::conv2d(ctx, TensorView<const bf16, 4>(img.view()), TensorView<const bf16, 4>(k.view()), out.view(),
              ops::Conv2dParams::same(3, 8));
  REQUIRE(ctx.primitives_created() == 2);
}
#endif
