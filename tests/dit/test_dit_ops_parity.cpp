// Linear-DiT ops on every compiled backend x {f32, bf16, f16} against the reference backend,
// at odd shapes and real Sana head shapes (self-attention d = 32, cross-attention d = 72 / 112).
#include <catch2/catch.hpp>

#include "sana/ops.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

namespace {
template <class B, class T, std::size_t R>
Tensor<T, R, B> upload(const Tensor<T, R, reference_backend>& t) {
  return to_backend<B>(test_context<B>(), t.view());
}
} // namespace

TEMPLATE_LIST_TEST_CASE("modulated LayerNorm, RMSNorm and gated residual parity", "[parity][dit]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  reference::Context rc;
  const auto shape = GENERATE(Shape<3>{1, 1, 1}, Shape<3>{2, 7, 24}, Shape<3>{2, 256, 1152});
  const std::int64_t Bn = shape[0], C = shape[2];
  auto x = random_tensor<T, 3>(shape, 1, 3.0f);
  auto mod = random_tensor<T, 3>({Bn, 6, C}, 2);
  auto w = random_tensor<T, 1>({C}, 3);
  auto xd = upload<B>(x);
  auto modd = upload<B>(mod);
  auto wd = upload<B>(w);
  auto rows = [&](auto& t, std::int64_t row) {
    using E = std::remove_const_t<std::remove_reference_t<decltype(*t.data())>>;
    return TensorView<const E, 2, typename std::remove_reference_t<decltype(t.view())>::space>(t.data() + row * C, {Bn, C},
                                                                                                {6 * C, 1});
  };
  Tensor<T, 3, reference_backend> want(shape);
  Tensor<T, 3, B> got(shape);
  ops::layer_norm_modulated(rc, x.view(), rows(mod, 0), rows(mod, 1), want.view(), 1e-6f);
  ops::layer_norm_modulated(ctx, xd.view(), rows(modd, 0), rows(modd, 1), got.view(), 1e-6f);
  require_close<T, 3>(roundtrip(got).view(), want.view());

  ops::rms_norm(rc, x.view(), w.view(), want.view(), 1e-5f);
  ops::rms_norm(ctx, xd.view(), wd.view(), got.view(), 1e-5f);
  require_close<T, 3>(roundtrip(got).view(), want.view());

  ops::gated_residual(rc, want.view(), x.view(), std::optional(rows(mod, 2)));
  ops::gated_residual(ctx, got.view(), xd.view(), std::optional(rows(modd, 2)));
  require_close<T, 3>(roundtrip(got).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("linear attention parity", "[parity][dit]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  reference::Context rc;
  struct Case { std::int64_t b, n, heads, d; };
  const auto cs = GENERATE(Case{1, 1, 1, 1}, Case{2, 33, 3, 4}, Case{2, 256, 36, 32});
  const auto fm = GENERATE(FeatureMap::relu, FeatureMap::elu_plus_one, FeatureMap::identity);
  INFO("feature map " << static_cast<int>(fm));
  const std::int64_t C = cs.heads * cs.d;
  auto qkv = random_tensor<T, 3>({cs.b, cs.n, 3 * C}, 4);
  // The identity map needs positive denominators: shift the data up, leaving some entries negative.
  if (fm == FeatureMap::identity)
    for (std::int64_t i = 0; i < qkv.numel(); ++i) qkv.data()[i] = convert<T>(to_float(qkv.data()[i]) + 0.8f);
  auto qkvd = upload<B>(qkv);
  Tensor<T, 3, reference_backend> want({cs.b, cs.n, C});
  Tensor<T, 3, B> got({cs.b, cs.n, C});
  auto run = [&](auto& c, auto f, auto out) {
    ops::linear_attention(c, f.slice(2, 0, C), f.slice(2, C, C), f.slice(2, 2 * C, C), out, cs.heads, 1e-15f, fm);
  };
  run(rc, qkv.view(), want.view());
  run(ctx, qkvd.view(), got.view());
  require_close<T, 3>(roundtrip(got).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("masked cross-attention parity", "[parity][dit]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  reference::Context rc;
  struct Case { std::int64_t b, n, l, heads, d, chunk; };
  const auto cs = GENERATE(Case{1, 1, 1, 1, 1, 1}, Case{2, 9, 5, 2, 4, 4}, Case{2, 64, 300, 16, 72, 64},
                           Case{2, 40, 300, 20, 112, 16});
  const std::int64_t C = cs.heads * cs.d;
  auto q = random_tensor<T, 3>({cs.b, cs.n, C}, 5);
  auto kv = random_tensor<T, 3>({cs.b, cs.l, 2 * C}, 6);
  Tensor<T, 2, reference_backend> bias({cs.b, cs.l});
  for (std::int64_t b = 0; b < cs.b; ++b)
    for (std::int64_t l = 0; l < cs.l; ++l) bias.view()(b, l) = convert<T>(b == cs.b - 1 && l > cs.l / 2 ? -10000.0f : 0.0f);
  auto qd = upload<B>(q);
  auto kvd = upload<B>(kv);
  auto biasd = upload<B>(bias);
  Tensor<T, 3, reference_backend> want({cs.b, cs.n, C}), sr({cs.heads, cs.chunk, cs.l});
  Tensor<T, 3, B> got({cs.b, cs.n, C}), sd({cs.heads, cs.chunk, cs.l});
  ops::cross_attention(rc, q.view(), kv.view().slice(2, 0, C), kv.view().slice(2, C, C),
                       std::optional<TensorView<const T, 2>>(bias.view()), want.view(), cs.heads, sr.view());
  ops::cross_attention(ctx, qd.view(), kvd.view().slice(2, 0, C), kvd.view().slice(2, C, C),
                       std::optional<TensorView<const T, 2, space_t<B>>>(biasd.view()), got.view(), cs.heads, sd.view());
  // Both sides round the scores to T before the softmax; 16-bit results may differ by a rounding of the scores.
  require_close<T, 3>(roundtrip(got).view(), want.view(), std::is_same_v<T, float> ? 1e-5 : 2 * parity_tolerance<T>);
}

TEMPLATE_LIST_TEST_CASE("depthwise 3x3 + GLU parity", "[parity][dit]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  reference::Context rc;
  const auto shape = GENERATE(Shape<4>{1, 1, 1, 2}, Shape<4>{2, 5, 3, 12}, Shape<4>{2, 16, 16, 5760});
  auto u = random_tensor<T, 4>(shape, 7);
  auto w = random_tensor<T, 4>({shape[3], 1, 3, 3}, 8);
  auto bias = random_tensor<T, 1>({shape[3]}, 9);
  auto ud = upload<B>(u);
  auto wd = upload<B>(w);
  auto bd = upload<B>(bias);
  const Shape<4> ys{shape[0], shape[1], shape[2], shape[3] / 2};
  Tensor<T, 4, reference_backend> want(ys);
  Tensor<T, 4, B> got(ys);
  ops::depthwise_glu(rc, u.view(), w.view(), bias.view(), want.view());
  ops::depthwise_glu(ctx, ud.view(), wd.view(), bd.view(), got.view());
  require_close<T, 4>(roundtrip(got).view(), want.view());
}
