// The reference backend is the oracle, so it is itself checked against independent
// double-precision loops written directly from the PyTorch definitions.
#include <catch2/catch.hpp>

#include <cmath>

#include "sana/ops.hpp"
#include "support/compare.hpp"

using namespace sana;
using sana::test::random_tensor;

namespace {
double act_ref(Activation a, double x) {
  switch (a) {
    case Activation::None: return x;
    case Activation::ReLU: return x > 0 ? x : 0;
    case Activation::SiLU: return x / (1 + std::exp(-x));
    case Activation::GELUTanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return x;
}
} // namespace

TEST_CASE("reference linear equals y = act(x W^T + b)", "[unit][ops]") {
  const auto act = GENERATE(Activation::None, Activation::ReLU, Activation::SiLU, Activation::GELUTanh);
  const std::int64_t B = 2, N = 5, K = 7, O = 3;
  auto x = random_tensor<float, 3>({B, N, K}, 1);                        // (B, N, K)
  auto w = random_tensor<float, 2>({O, K}, 2);                           // (O, K)
  auto b = random_tensor<float, 1>({O}, 3);                              // (O,)
  Tensor<float, 3, reference_backend> y({B, N, O});                      // (B, N, O)
  reference::Context ctx;
  ops::linear(ctx, x.view(), w.view(), b.view(), y.view(), act);
  for (std::int64_t i = 0; i < B; ++i)
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t o = 0; o < O; ++o) {
        double acc = b.view()(o);
        for (std::int64_t k = 0; k < K; ++k) acc += double(x.view()(i, n, k)) * w.view()(o, k);
        REQUIRE(y.view()(i, n, o) == Approx(act_ref(act, acc)).margin(1e-6));
      }
}

TEST_CASE("reference matmul handles transposed views, broadcast batches, alpha and beta", "[unit][ops]") {
  const std::int64_t Bt = 3, M = 4, K = 6, N = 5;
  auto a_t = random_tensor<float, 3>({Bt, K, M}, 4);                     // (Bt, K, M) stored
  auto b = random_tensor<float, 3>({1, K, N}, 5);                        // (1, K, N)
  auto c = random_tensor<float, 3>({Bt, M, N}, 6);                       // (Bt, M, N)
  Tensor<float, 3, reference_backend> c0({Bt, M, N});
  std::copy(c.data(), c.data() + c.numel(), c0.data());
  reference::Context ctx;
  auto a = a_t.view().transpose(1, 2);                                   // (Bt, M, K) view
  TensorView<const float, 3> bb(b.data(), {Bt, K, N}, {0, N, 1});        // batch-broadcast (Bt, K, N)
  ops::matmul(ctx, a, bb, c.view(), 0.5f, 2.0f);
  for (std::int64_t i = 0; i < Bt; ++i)
    for (std::int64_t m = 0; m < M; ++m)
      for (std::int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (std::int64_t k = 0; k < K; ++k) acc += double(a_t.view()(i, k, m)) * b.view()(0, k, n);
        REQUIRE(c.view()(i, m, n) == Approx(0.5 * acc + 2.0 * c0.view()(i, m, n)).margin(1e-6));
      }
}

TEST_CASE("reference conv2d equals the PyTorch definition (groups, stride, padding, dilation)", "[unit][ops]") {
  struct Case { std::int64_t n, c, h, w, o, k, stride, pad, dil, groups; };
  const auto cs = GENERATE(Case{2, 4, 7, 6, 6, 3, 1, 1, 1, 1}, Case{1, 6, 9, 8, 4, 3, 2, 1, 1, 2},
                           Case{1, 5, 6, 7, 5, 3, 1, 1, 1, 5}, Case{1, 3, 8, 8, 2, 3, 1, 2, 2, 1},
                           Case{2, 4, 5, 5, 8, 1, 1, 0, 1, 1}, Case{1, 4, 11, 10, 4, 5, 1, 2, 1, 4});
  auto x = random_tensor<float, 4>({cs.n, cs.c, cs.h, cs.w}, 7);         // (N, C, H, W)
  auto wt = random_tensor<float, 4>({cs.o, cs.c / cs.groups, cs.k, cs.k}, 8);  // (O, C/g, k, k)
  auto b = random_tensor<float, 1>({cs.o}, 9);
  ops::Conv2dParams p;
  p.stride_h = p.stride_w = cs.stride;
  p.pad_h = p.pad_w = cs.pad;
  p.dil_h = p.dil_w = cs.dil;
  p.groups = cs.groups;
  const auto ho = ops::conv_out_size(cs.h, cs.k, cs.stride, cs.pad, cs.dil);
  const auto wo = ops::conv_out_size(cs.w, cs.k, cs.stride, cs.pad, cs.dil);
  Tensor<float, 4, reference_backend> y({cs.n, cs.o, ho, wo});           // (N, O, H', W')
  reference::Context ctx;
  ops::conv2d(ctx, x.view(), wt.view(), b.view(), y.view(), p);
  const auto cg = cs.c / cs.groups, og = cs.o / cs.groups;
  for (std::int64_t n = 0; n < cs.n; ++n)
    for (std::int64_t o = 0; o < cs.o; ++o)
      for (std::int64_t oy = 0; oy < ho; ++oy)
        for (std::int64_t ox = 0; ox < wo; ++ox) {
          double acc = b.view()(o);
          for (std::int64_t ci = 0; ci < cg; ++ci)
            for (std::int64_t ky = 0; ky < cs.k; ++ky)
              for (std::int64_t kx = 0; kx < cs.k; ++kx) {
                const auto iy = oy * cs.stride - cs.pad + ky * cs.dil, ix = ox * cs.stride - cs.pad + kx * cs.dil;
                if (iy < 0 || iy >= cs.h || ix < 0 || ix >= cs.w) continue;
                acc += double(wt.view()(o, ci, ky, kx)) * x.view()(n, (o / og) * cg + ci, iy, ix);
              }
          REQUIRE(y.view()(n, o, oy, ox) == Approx(acc).margin(1e-5));
        }
}

TEST_CASE("reference element-wise ops: broadcasting, activations, lincomb, strided cast", "[unit][ops]") {
  reference::Context ctx;
  auto a = random_tensor<float, 3>({2, 3, 4}, 10);
  auto b = random_tensor<float, 3>({1, 3, 1}, 11);
  Tensor<float, 3, reference_backend> out({2, 3, 4});
  ops::mul(ctx, a.view(), b.view(), out.view());
  REQUIRE(out.view()(1, 2, 3) == a.view()(1, 2, 3) * b.view()(0, 2, 0));
  ops::sub(ctx, b.view(), a.view(), out.view());
  REQUIRE(out.view()(1, 1, 2) == b.view()(0, 1, 0) - a.view()(1, 1, 2));
  ops::div(ctx, a.view(), b.view(), out.view());
  REQUIRE(out.view()(0, 2, 1) == a.view()(0, 2, 1) / b.view()(0, 2, 0));

  const auto act = GENERATE(Activation::ReLU, Activation::SiLU, Activation::GELUTanh);
  ops::activation(ctx, a.view(), out.view(), act);
  for (std::int64_t i = 0; i < a.numel(); ++i) REQUIRE(out.data()[i] == Approx(act_ref(act, a.data()[i])).margin(1e-6));

  auto c = random_tensor<float, 3>({2, 3, 4}, 12);
  const float coef[] = {0.25f, -1.5f};
  const TensorView<const float, 3> terms[] = {a.view(), c.view()};
  ops::lincomb(ctx, std::span<const float>(coef), std::span<const TensorView<const float, 3>>(terms), c.view());  // aliasing
  REQUIRE(c.view()(1, 2, 3) == Approx(0.25f * a.view()(1, 2, 3) - 1.5f * random_tensor<float, 3>({2, 3, 4}, 12).view()(1, 2, 3)));

  Tensor<bf16, 3, reference_backend> t({2, 4, 3});                       // transposed bf16 copy
  ops::copy(ctx, a.view().transpose(1, 2), t.view());
  REQUIRE(static_cast<float>(t.view()(1, 3, 2)) == static_cast<float>(bf16(a.view()(1, 2, 3))));
}
