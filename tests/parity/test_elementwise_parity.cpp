// Element-wise ops and casts on every compiled backend against the reference backend.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "sana/ops.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

TEMPLATE_LIST_TEST_CASE("binary op parity with broadcasting", "[parity][elementwise]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  struct Case { Shape<3> a, b, out; };
  const auto cs = GENERATE(Case{{1, 1, 1}, {1, 1, 1}, {1, 1, 1}}, Case{{2, 7, 5}, {2, 7, 5}, {2, 7, 5}},
                           Case{{2, 256, 1152}, {2, 1, 1152}, {2, 256, 1152}},  // gate (B,1,C) over tokens
                           Case{{3, 1, 5}, {1, 4, 1}, {3, 4, 5}});             // both sides broadcast
  const int op = GENERATE(0, 1, 2, 3);
  auto a = random_tensor<T, 3>(cs.a, 21);
  auto b = random_tensor<T, 3>(cs.b, 22);
  if (op == 3)
    for (std::int64_t i = 0; i < b.numel(); ++i) b.data()[i] = convert<T>(1.5f + to_float(b.data()[i]));  // no /0
  reference::Context rc;
  Tensor<T, 3, reference_backend> want(cs.out);
  auto ad = to_backend<B>(ctx, a.view());
  auto bd = to_backend<B>(ctx, b.view());
  Tensor<T, 3, B> got(cs.out);
  auto run = [&](auto& c, auto x, auto y, auto o) {
    switch (op) {
      case 0: ops::add(c, x, y, o); break;
      case 1: ops::sub(c, x, y, o); break;
      case 2: ops::mul(c, x, y, o); break;
      default: ops::div(c, x, y, o); break;
    }
  };
  run(rc, a.view(), b.view(), want.view());
  run(ctx, ad.view(), bd.view(), got.view());
  require_close<T, 3>(roundtrip(got).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("activation and lincomb parity", "[parity][elementwise]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  const auto n = GENERATE(std::int64_t{1}, std::int64_t{1001}, std::int64_t{2 * 32 * 32 * 32});
  const auto act = GENERATE(Activation::ReLU, Activation::SiLU, Activation::GELUTanh);
  auto x = random_tensor<T, 1>({n}, 31, 4.0f);
  reference::Context rc;
  Tensor<T, 1, reference_backend> want({n});
  ops::activation(rc, x.view(), want.view(), act);
  auto xd = to_backend<B>(ctx, x.view());
  ops::activation(ctx, xd.view(), xd.view(), act);  // in place
  require_close<T, 1>(roundtrip(xd).view(), want.view());

  // A second-order sampler update: y = a*x + b*d0 + c*d1, written over x.
  auto d0 = random_tensor<T, 1>({n}, 32);
  auto d1 = random_tensor<T, 1>({n}, 33);
  const float coef[] = {0.9f, -0.35f, 0.125f};
  const TensorView<const T, 1> terms[] = {x.view(), d0.view(), d1.view()};
  ops::lincomb(rc, std::span<const float>(coef), std::span<const TensorView<const T, 1>>(terms), want.view());
  auto xd2 = to_backend<B>(ctx, x.view());
  auto d0d = to_backend<B>(ctx, d0.view());
  auto d1d = to_backend<B>(ctx, d1.view());
  using DV = TensorView<const T, 1, space_t<B>>;
  const DV dterms[] = {xd2.view(), d0d.view(), d1d.view()};
  ops::lincomb(ctx, std::span<const float>(coef), std::span<const DV>(dterms), xd2.view());
  require_close<T, 1>(roundtrip(xd2).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("clamp parity (fp16's ±65504 clip: inf clamps, NaN passes)", "[parity][elementwise]",
                        ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  const auto n = GENERATE(std::int64_t{1}, std::int64_t{4099});
  auto x = random_tensor<T, 1>({n}, 41, 4.0f);
  x.data()[0] = convert<T>(std::numeric_limits<float>::infinity());
  if (n > 2) {
    x.data()[1] = convert<T>(-std::numeric_limits<float>::infinity());
    x.data()[2] = convert<T>(std::numeric_limits<float>::quiet_NaN());
  }
  reference::Context rc;
  Tensor<T, 1, reference_backend> want({n});
  ops::clamp(rc, x.view(), want.view(), -1.5f, 2.0f);
  CHECK(to_float(want.data()[0]) == 2.0f);
  if (n > 2) {
    CHECK(to_float(want.data()[1]) == -1.5f);
    CHECK(std::isnan(to_float(want.data()[2])));
  }
  for (std::int64_t i = 3; i < n; ++i) {
    const float v = to_float(want.data()[i]);
    REQUIRE((v >= -1.5f && v <= 2.0f));
  }
  auto xd = to_backend<B>(ctx, x.view());
  ops::clamp(ctx, xd.view(), xd.view(), -1.5f, 2.0f);  // in place
  auto got = roundtrip(xd);
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = to_float(got.data()[i]), w = to_float(want.data()[i]);
    if (std::isnan(w)) CHECK(std::isnan(g));
    else CHECK(g == w);  // a clamp is exact
  }
}

TEMPLATE_LIST_TEST_CASE("strided copy and cast parity", "[parity][elementwise]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  // (B, N, C) tokens -> (B, C, N) planes with a cast to each float type: the unpatchify pattern.
  auto cast_to = [&](auto tag) {
    using U = decltype(tag);
    reference::Context rc;
    auto src = random_tensor<T, 3>({2, 35, 19}, 42, 100.0f);
    Tensor<U, 3, reference_backend> want2({2, 19, 35});
    ops::copy(rc, src.view().transpose(1, 2), want2.view());
    auto sd = to_backend<B>(ctx, src.view());
    Tensor<U, 3, B> got({2, 19, 35});
    ops::copy(ctx, sd.view().transpose(1, 2), got.view());
    // A cast is exact (RNE on both sides), so the tolerance is zero.
    require_close<U, 3>(roundtrip(got).view(), want2.view(), 0.0);
  };
  cast_to(float{});
  cast_to(bf16{});
  cast_to(f16{});
}
