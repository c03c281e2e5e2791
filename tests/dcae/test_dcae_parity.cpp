// DC-AE ops on every compiled backend against the reference backend, f32 / bf16 / f16, at tiny,
// odd and real Sana DC-AE shapes (stage-3 EfficientViT at 16x16 instead of 128x128 to stay fast), the
// backend's maps in each memory format it takes (channels-last on host backends) against NCHW.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>

#include "sana/ops.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"
#include "support/memory_format.hpp"

using namespace sana;
using namespace sana::test;

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
  auto wd = to_backend<B>(ctx, w.view());
  auto bd = to_backend<B>(ctx, b.view());
  auto vd = to_backend<B>(ctx, var.view());
  Tensor<T, 4, reference_backend> want_rms(s), want_bn(s);
  ops::channel_rms_norm<reference::Context, T>(rc, x.view(), w.view(), b.data(), r.data(), want_rms.view());
  ops::batch_norm_eval<reference::Context, T>(rc, x.view(), b.view(), var.view(), w.data(), b.data(), r.data(), want_bn.view());
  for (const MemoryFormat f : test_formats<B>()) {
    INFO(memory_format_name(f));
    auto xd = to_format<B>(x.view(), f);
    auto rd = to_format<B>(r.view(), f);
    auto got = to_format<B>(x.view(), f);
    ops::channel_rms_norm<context_t<B>, T>(ctx, xd.cview(), wd.view(), bd.data(), rd.storage.data(), got.view());
    require_close<T, 4>(got.host().view(), want_rms.view());
    ops::channel_rms_norm<context_t<B>, T>(ctx, got.cview(), wd.view(), bd.data(), nullptr, got.view());  // in place
    ops::batch_norm_eval<context_t<B>, T>(ctx, xd.cview(), bd.view(), vd.view(), wd.data(), bd.data(), rd.storage.data(),
                                          got.view());
    require_close<T, 4>(got.host().view(), want_bn.view());
  }
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
  std::array<TensorView<const T, 4, host_space>, 2> hv{host[0].view(), host[1].view()};
  Tensor<T, 4, reference_backend> want(os);
  ops::multiscale_attention<reference::Context, T>(rc, std::span(hv.data(), cs.branches), want.view(), cs.d);
  for (const MemoryFormat f : test_formats<B>()) {
    INFO(memory_format_name(f));
    std::array<FormattedMap<B, T>, 2> dev{to_format<B>(hv[0], f), to_format<B>(hv[1], f)};
    std::array<TensorView<const T, 4, space_t<B>>, 2> dv{dev[0].cview(), dev[1].cview()};
    auto got = to_format<B>(want.view(), f);
    ops::multiscale_attention<context_t<B>, T>(ctx, std::span<const TensorView<const T, 4, space_t<B>>>(dv.data(), cs.branches),
                                               got.view(), cs.d);
    require_close<T, 4>(got.host().view(), want.view());
  }
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
  auto check = [&](const Shape<4>& os, auto&& op) {
    auto init = random_tensor<T, 4>(os, 9);
    Tensor<T, 4, reference_backend> want(os);
    std::copy(init.data(), init.data() + init.numel(), want.data());
    op(rc, x.view(), want.view());
    for (const MemoryFormat f : test_formats<B>()) {
      INFO(memory_format_name(f));
      auto xd = to_format<B>(x.view(), f);
      auto got = to_format<B>(init.view(), f);
      op(ctx, xd.cview(), got.view());
      require_close<T, 4>(got.host().view(), want.view());
    }
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
