// DC-AE ops on every compiled backend against the reference backend, f32 / bf16 / f16, at tiny,
// odd and real Sana DC-AE shapes (stage-3 EfficientViT at 16x16 instead of 128x128 to stay fast).
#include <catch2/catch.hpp>

#include <array>
#include <cmath>

#include "sana/ops.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

namespace {
template <class B, class T>
using DevT = Tensor<T, 4, B>;
}

TEMPLATE_LIST_TEST_CASE("channel_rms_norm / batch_norm parity", "[parity][dcae]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  const auto s = GENERATE(Shape<4>{1, 1, 1, 1}, Shape<4>{2, 5, 3, 7}, Shape<4>{1, 128, 32, 32}, Shape<4>{1, 1024, 4, 4});
  INFO(shape_string(s) << " " << dtype_name(dtype_of_v<T>));
  auto& ctx = test_context<B>();
  reference::Context rc;
  auto x = random_tensor<T, 4>(s, 1, 2.0f);
  auto r = random_tensor<T, 4>(s, 2);
  auto w = random_tensor<T, 1>({s[1]}, 3);
  auto b = random_tensor<T, 1>({s[1]}, 4);
  auto var = random_tensor<T, 1>({s[1]}, 5);
  for (std::int64_t i = 0; i < s[1]; ++i) var.data()[i] = convert<T>(std::abs(to_float(var.data()[i])) + 0.5f);
  auto xd = to_backend<B>(ctx, x.view());
  auto rd = to_backend<B>(ctx, r.view());
  auto wd = to_backend<B>(ctx, w.view());
  auto bd = to_backend<B>(ctx, b.view());
  auto vd = to_backend<B>(ctx, var.view());
  Tensor<T, 4, reference_backend> want(s);
  DevT<B, T> got(s);
  ops::channel_rms_norm<reference::Context, T>(rc, x.view(), w.view(), b.data(), r.data(), want.view());
  ops::channel_rms_norm<context_t<B>, T>(ctx, xd.view(), wd.view(), bd.data(), rd.data(), got.view());
  require_close<T, 4>(roundtrip(got).view(), want.view());
  ops::batch_norm_eval<reference::Context, T>(rc, x.view(), b.view(), var.view(), w.data(), b.data(), r.data(), want.view());
  ops::batch_norm_eval<context_t<B>, T>(ctx, xd.view(), bd.view(), vd.view(), wd.data(), bd.data(), rd.data(), got.view());
  require_close<T, 4>(roundtrip(got).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("multiscale_attention parity", "[parity][dcae]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  struct Case { std::int64_t n, heads, d, h, w; int branches; };
  const auto cs = GENERATE(Case{1, 1, 2, 1, 1, 1}, Case{2, 3, 4, 5, 3, 2}, Case{1, 2, 32, 4, 8, 2},  // quadratic
                           Case{1, 16, 32, 16, 16, 2});  // Sana stage 3 heads (C=512) at 16x16
  INFO("heads " << cs.heads << " d " << cs.d << " " << cs.h << "x" << cs.w << " " << dtype_name(dtype_of_v<T>));
  auto& ctx = test_context<B>();
  reference::Context rc;
  const Shape<4> in{cs.n, 3 * cs.heads * cs.d, cs.h, cs.w}, os{cs.n, cs.branches * cs.heads * cs.d, cs.h, cs.w};
  std::array<Tensor<T, 4, reference_backend>, 2> host{random_tensor<T, 4>(in, 1), random_tensor<T, 4>(in, 2)};
  std::array<DevT<B, T>, 2> dev{to_backend<B>(ctx, host[0].view()), to_backend<B>(ctx, host[1].view())};
  std::array<TensorView<const T, 4, host_space>, 2> hv{host[0].view(), host[1].view()};
  std::array<TensorView<const T, 4, space_t<B>>, 2> dv{dev[0].view(), dev[1].view()};
  Tensor<T, 4, reference_backend> want(os);
  DevT<B, T> got(os);
  ops::multiscale_attention<reference::Context, T>(rc, std::span(hv.data(), cs.branches), want.view(), cs.d);
  ops::multiscale_attention<context_t<B>, T>(ctx, std::span<const TensorView<const T, 4, space_t<B>>>(dv.data(), cs.branches),
                                             got.view(), cs.d);
  require_close<T, 4>(roundtrip(got).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("upsample / pixel shuffle / GLU parity", "[parity][dcae]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  const auto s = GENERATE(Shape<4>{1, 4, 1, 1}, Shape<4>{2, 8, 3, 5}, Shape<4>{1, 256, 16, 16});
  INFO(shape_string(s) << " " << dtype_name(dtype_of_v<T>));
  auto& ctx = test_context<B>();
  reference::Context rc;
  auto x = random_tensor<T, 4>(s, 1);
  auto xd = to_backend<B>(ctx, x.view());
  auto check = [&](const Shape<4>& os, auto&& op) {
    auto init = random_tensor<T, 4>(os, 9);
    Tensor<T, 4, reference_backend> want(os);
    std::copy(init.data(), init.data() + init.numel(), want.data());
    auto got = to_backend<B>(ctx, init.view());
    op(rc, x.view(), want.view());
    op(ctx, xd.view(), got.view());
    require_close<T, 4>(roundtrip(got).view(), want.view());
  };
  check(Shape<4>{s[0], s[1], 2 * s[2], 2 * s[3]}, [](auto& c, auto in, auto out) {
    ops::upsample_nearest2x<std::remove_reference_t<decltype(c)>, T>(c, in, out);
  });
  check(Shape<4>{s[0], s[1] / 2, 2 * s[2], 2 * s[3]}, [](auto& c, auto in, auto out) {  // Sana up block r = 2
    ops::pixel_shuffle<std::remove_reference_t<decltype(c)>, T>(c, in, out, 2, 2, true);
  });
  check(Shape<4>{s[0], s[1] / 4, 2 * s[2], 2 * s[3]}, [](auto& c, auto in, auto out) {
    ops::pixel_shuffle<std::remove_reference_t<decltype(c)>, T>(c, in, out, 2, 1, false);
  });
  if (s[2] % 2 == 0 && s[3] % 2 == 0)
    check(Shape<4>{s[0], s[1] * 4 / 8, s[2] / 2, s[3] / 2}, [](auto& c, auto in, auto out) {
      ops::pixel_unshuffle<std::remove_reference_t<decltype(c)>, T>(c, in, out, 2, 8, true);
    });
  check(Shape<4>{s[0], s[1] / 4, s[2], s[3]}, [](auto& c, auto in, auto out) {
    ops::average_channels<std::remove_reference_t<decltype(c)>, T>(c, in, out, true);
  });
  check(Shape<4>{s[0], s[1] * 4, s[2], s[3]}, [](auto& c, auto in, auto out) {
    ops::repeat_channels<std::remove_reference_t<decltype(c)>, T>(c, in, out, true);
  });
  check(Shape<4>{s[0], s[1] / 2, s[2], s[3]}, [](auto& c, auto in, auto out) {
    ops::glu_silu<std::remove_reference_t<decltype(c)>, T>(c, in, out);
  });
}
