// Text-encoder ops on every compiled backend against the reference backend, at odd and Gemma-2-2B shapes.
#include <catch2/catch.hpp>

#include <vector>

#include "sana/ops.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

TEMPLATE_LIST_TEST_CASE("gemma_rms_norm and embedding_lookup parity", "[parity][text]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  reference::Context rc;
  const auto rc_shape = GENERATE(Shape<2>{1, 1}, Shape<2>{7, 33}, Shape<2>{300, 2304});
  auto x = random_tensor<T, 2>(rc_shape, 11, 3.0f);
  auto w = random_tensor<T, 1>({rc_shape[1]}, 12);
  Tensor<T, 2, reference_backend> want(rc_shape);
  ops::gemma_rms_norm<reference::Context, T, 2>(rc, x.view(), w.view(), want.view(), 1e-6f);
  auto xd = to_backend<B>(ctx, x.view());
  auto wd = to_backend<B>(ctx, w.view());
  ops::gemma_rms_norm<context_t<B>, T, 2>(ctx, xd.view(), wd.view(), xd.view(), 1e-6f);  // in place
  require_close<T, 2>(roundtrip(xd).view(), want.view());

  auto table = random_tensor<T, 2>({50, rc_shape[1]}, 13);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(rc_shape[0]));
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>((i * 7 + 3) % 50);
  const TensorView<const std::int64_t, 1> idv(ids.data(), {rc_shape[0]});
  ops::embedding_lookup<reference::Context, T>(rc, idv, table.view(), want.view(), to_float(convert<T>(48.0f)));
  auto idd = to_backend<B>(ctx, idv);
  auto td = to_backend<B>(ctx, table.view());
  Tensor<T, 2, B> got(rc_shape);
  ops::embedding_lookup<context_t<B>, T>(ctx, idd.view(), td.view(), got.view(), to_float(convert<T>(48.0f)));
  require_close<T, 2>(roundtrip(got).view(), want.view(), 0.0);
}

TEMPLATE_LIST_TEST_CASE("rotary_embedding parity on strided heads", "[parity][text]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  struct Case { std::int64_t b, t, h, d; };
  const auto c = GENERATE(Case{1, 1, 1, 2}, Case{2, 9, 3, 8}, Case{1, 530, 8, 256});
  // q of a fused projection: (B, T, H, D) inside rows of 2·H·D, so the token stride is not H·D.
  auto buf = random_tensor<T, 4>({c.b, c.t, 2 * c.h, c.d}, 21);
  Tensor<T, 4, reference_backend> want({c.b, c.t, 2 * c.h, c.d});
  std::copy(buf.data(), buf.data() + buf.numel(), want.data());
  reference::Context rc;
  ops::rotary_embedding<reference::Context, T>(rc, want.view().slice(2, c.h, c.h), 10000.0f);
  auto got = to_backend<B>(ctx, buf.view());
  ops::rotary_embedding<context_t<B>, T>(ctx, got.view().slice(2, c.h, c.h), 10000.0f);
  require_close<T, 4>(roundtrip(got).view(), want.view());
}

TEMPLATE_LIST_TEST_CASE("attention_softmax parity with soft-cap, padding and window", "[parity][text]", ParityMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  struct Case { std::int64_t b, h, t; float cap; std::int64_t window; };
  const auto c = GENERATE(Case{1, 1, 1, 0.0f, 0}, Case{2, 3, 17, 50.0f, 5}, Case{2, 8, 300, 50.0f, 0});
  auto s = random_tensor<T, 4>({c.b, c.h, c.t, c.t}, 31, 40.0f);
  std::vector<std::int64_t> mask(static_cast<std::size_t>(c.b * c.t), 1);
  for (std::int64_t j = c.t / 2 + 1; j < c.t; ++j) mask[static_cast<std::size_t>((c.b - 1) * c.t + j)] = 0;  // last row padded
  const TensorView<const std::int64_t, 2> mv(mask.data(), {c.b, c.t});
  Tensor<T, 4, reference_backend> want({c.b, c.h, c.t, c.t});
  std::copy(s.data(), s.data() + s.numel(), want.data());
  reference::Context rc;
  ops::attention_softmax<reference::Context, T>(rc, want.view(), mv, {c.cap, true, c.window});
  auto got = to_backend<B>(ctx, s.view());
  auto md = to_backend<B>(ctx, mv);
  ops::attention_softmax<context_t<B>, T>(ctx, got.view(), md.view(), {c.cap, true, c.window});
  require_close<T, 4>(roundtrip(got).view(), want.view());
}
