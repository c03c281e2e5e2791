// conv2d on every compiled backend against the reference backend.
#include <catch2/catch.hpp>

#include <cmath>

#include "sana/ops.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"
#include "support/memory_format.hpp"

using namespace sana;
using namespace sana::test;

TEMPLATE_LIST_TEST_CASE("conv2d parity (dense, grouped, depthwise, strided, Sana shapes)", "[parity][conv]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  struct Case { std::int64_t n, c, h, w, o, k, stride, pad, dil, groups; bool bias; Activation act; };
  const auto cs = GENERATE(
      Case{1, 1, 1, 1, 1, 1, 1, 0, 1, 1, true, Activation::None},
      Case{2, 3, 7, 5, 4, 3, 1, 1, 1, 1, true, Activation::ReLU},          // odd sizes
      Case{1, 8, 9, 9, 6, 3, 2, 1, 1, 2, false, Activation::None},         // grouped + stride 2
      Case{1, 12, 10, 6, 12, 3, 1, 2, 2, 1, true, Activation::SiLU},       // dilation
      Case{2, 80, 8, 8, 80, 3, 1, 1, 1, 80, true, Activation::None},       // Mix-FFN depthwise 3x3 (2F channels)
      Case{1, 96, 8, 8, 96, 5, 1, 2, 1, 96, false, Activation::None},      // DC-AE multiscale depthwise 5x5
      Case{1, 96, 8, 8, 96, 1, 1, 0, 1, 3, false, Activation::None},       // DC-AE grouped 1x1 (32-channel groups)
      Case{1, 32, 16, 16, 64, 3, 1, 1, 1, 1, true, Activation::None},      // DC-AE decoder conv_in 32 -> C
      Case{1, 64, 16, 16, 64, 3, 2, 1, 1, 1, true, Activation::None},      // encoder downsample
      Case{1, 128, 32, 32, 3, 3, 1, 1, 1, 1, true, Activation::None});     // decoder conv_out 128 -> 3
  INFO("n=" << cs.n << " c=" << cs.c << " " << cs.h << "x" << cs.w << " o=" << cs.o << " k=" << cs.k << " g=" << cs.groups
            << " dtype=" << dtype_name(dtype_of_v<T>));
  auto& ctx = test_context<B>();
  ops::Conv2dParams p;
  p.stride_h = p.stride_w = cs.stride;
  p.pad_h = p.pad_w = cs.pad;
  p.dil_h = p.dil_w = cs.dil;
  p.groups = cs.groups;
  p.act = cs.act;
  const float scale = 1.0f / std::sqrt(static_cast<float>(cs.c / cs.groups * cs.k * cs.k));
  auto x = random_tensor<T, 4>({cs.n, cs.c, cs.h, cs.w}, 11);            // (N, C, H, W)
  auto w = random_tensor<T, 4>({cs.o, cs.c / cs.groups, cs.k, cs.k}, 12, scale);  // (O, C/g, k, k)
  auto b = random_tensor<T, 1>({cs.o}, 13);
  const Shape<4> ys{cs.n, cs.o, ops::conv_out_size(cs.h, cs.k, cs.stride, cs.pad, cs.dil),
                    ops::conv_out_size(cs.w, cs.k, cs.stride, cs.pad, cs.dil)};
  reference::Context rc;
  Tensor<T, 4, reference_backend> want(ys);
  auto wd = to_backend<B>(ctx, w.view());
  auto bd = to_backend<B>(ctx, b.view());
  if (cs.bias)
    ops::conv2d(rc, x.view(), w.view(), b.view(), want.view(), p);
  else
    ops::conv2d(rc, x.view(), w.view(), want.view(), p);
  for (const MemoryFormat f : test_formats<B>()) {  // the backend's kernel in each format vs the NCHW reference
    INFO(memory_format_name(f));
    auto xd = to_format<B>(x.view(), f);
    auto got = to_format<B>(want.view(), f);  // overwritten by the convolution
    if (cs.bias)
      ops::conv2d(ctx, xd.cview(), wd.view(), bd.view(), got.view(), p);
    else
      ops::conv2d(ctx, xd.cview(), wd.view(), got.view(), p);
    require_close<T, 4>(got.host().view(), want.view());
  }
}
