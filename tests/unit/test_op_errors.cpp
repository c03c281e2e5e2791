// Every op rejects bad shapes with a sana::error that names the op and the shapes.
#include <catch2/catch.hpp>

#include "sana/ops.hpp"
#include "support/compare.hpp"

using namespace sana;
using sana::test::random_tensor;
using Catch::Contains;

TEST_CASE("ops reject mismatched shapes with named errors", "[unit][ops][errors]") {
  reference::Context ctx;
  auto x = random_tensor<float, 2>({4, 8}, 1);
  auto w = random_tensor<float, 2>({3, 7}, 2);
  auto b = random_tensor<float, 1>({4}, 3);
  Tensor<float, 2, reference_backend> y({4, 3});
  REQUIRE_THROWS_WITH(ops::linear(ctx, x.view(), w.view(), y.view()),
                      Contains("[linear]") && Contains("weight (3, 7)") && Contains("input features 8"));
  auto w2 = random_tensor<float, 2>({3, 8}, 2);
  REQUIRE_THROWS_WITH(ops::linear(ctx, x.view(), w2.view(), b.view(), y.view()), Contains("bias has 4 elements, expected 3"));
  Tensor<float, 2, reference_backend> y2({5, 3});
  REQUIRE_THROWS_WITH(ops::linear(ctx, x.view(), w2.view(), y2.view()), Contains("does not match input (4, 8)"));

  auto a = random_tensor<float, 3>({2, 3, 4}, 4);
  auto bm = random_tensor<float, 3>({2, 5, 6}, 5);
  Tensor<float, 3, reference_backend> c({2, 3, 6});
  REQUIRE_THROWS_WITH(ops::matmul(ctx, a.view(), bm.view(), c.view()), Contains("[matmul]") && Contains("do not chain"));

  auto img = random_tensor<float, 4>({1, 6, 8, 8}, 6);
  auto k = random_tensor<float, 4>({4, 4, 3, 3}, 7);
  Tensor<float, 4, reference_backend> out({1, 4, 8, 8});
  ops::Conv2dParams p = ops::Conv2dParams::same(3, 2);
  REQUIRE_THROWS_WITH(ops::conv2d(ctx, img.view(), k.view(), out.view(), p), Contains("[conv2d]") && Contains("expects 8 input channels"));
  p.groups = 4;
  REQUIRE_THROWS_WITH(ops::conv2d(ctx, img.view(), k.view(), out.view(), p), Contains("not divisible by groups 4"));
  auto k2 = random_tensor<float, 4>({4, 6, 3, 3}, 7);
  Tensor<float, 4, reference_backend> bad({1, 4, 7, 8});
  REQUIRE_THROWS_WITH(ops::conv2d(ctx, img.view(), k2.view(), bad.view(), ops::Conv2dParams::same(3)),
                      Contains("output is (1, 4, 7, 8), expected (1, 4, 8, 8)"));
  auto big = random_tensor<float, 4>({4, 6, 9, 9}, 8);
  Tensor<float, 4, reference_backend> none({1, 4, 1, 1});
  REQUIRE_THROWS_WITH(ops::conv2d(ctx, img.view(), big.view(), none.view()), Contains("does not fit input 8x8"));

  auto u = random_tensor<float, 2>({3, 4}, 9);
  auto v = random_tensor<float, 2>({2, 4}, 10);
  Tensor<float, 2, reference_backend> o({3, 4});
  REQUIRE_THROWS_WITH(ops::add(ctx, u.view(), v.view(), o.view()), Contains("[add]") && Contains("does not broadcast to (3, 4)"));
  Tensor<float, 2, reference_backend> o2({4, 3});
  REQUIRE_THROWS_WITH(ops::activation(ctx, u.view(), o2.view(), Activation::ReLU), Contains("[activation]"));
  REQUIRE_THROWS_WITH(ops::copy(ctx, u.view(), o2.view()), Contains("[copy]"));
  const float coef[] = {1.0f};
  const TensorView<const float, 2> terms[] = {u.view(), u.view()};
  REQUIRE_THROWS_WITH(ops::lincomb(ctx, std::span<const float>(coef), std::span<const TensorView<const float, 2>>(terms), o.view()),
                      Contains("[lincomb] 1 coefficients for 2 tensors"));
}
