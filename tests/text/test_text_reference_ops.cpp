// The text-encoder reference kernels against independent double-precision loops written from
// transformers' Gemma-2 code (fp32 tensors, so every dtype rounding step is the identity), and their errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "sana/ops.hpp"
#include "support/compare.hpp"

using namespace sana;
using sana::test::random_tensor;

TEST_CASE("reference embedding_lookup gathers and scales rows", "[unit][text]") {
  auto table = random_tensor<float, 2>({11, 6}, 1);  // (V, C)
  std::vector<std::int64_t> ids{3, 0, 10, 3};
  Tensor<float, 2, reference_backend> out({4, 6});   // (N, C)
  reference::Context ctx;
  ops::embedding_lookup<reference::Context, float>(ctx, TensorView<const std::int64_t, 1>(ids.data(), {4}), table.view(),
                                                   out.view(), 2.5f);
  for (std::int64_t i = 0; i < 4; ++i)
    for (std::int64_t c = 0; c < 6; ++c) REQUIRE(out.view()(i, c) == Approx(2.5 * table.view()(ids[i], c)));
  ids[1] = 11;
  REQUIRE_THROWS_WITH((ops::embedding_lookup<reference::Context, float>(ctx, TensorView<const std::int64_t, 1>(ids.data(), {4}),
                                                                        table.view(), out.view(), 1.0f)),
                      Catch::Contains("token id 11"));
}

TEST_CASE("reference gemma_rms_norm is x * rsqrt(mean(x^2) + eps) * (1 + w)", "[unit][text]") {
  const std::int64_t R = 5, C = 37;
  auto x = random_tensor<float, 2>({R, C}, 2, 3.0f);  // (R, C)
  auto w = random_tensor<float, 1>({C}, 3);           // (C,)
  Tensor<float, 2, reference_backend> y({R, C});
  reference::Context ctx;
  ops::gemma_rms_norm<reference::Context, float, 2>(ctx, x.view(), w.view(), y.view(), 1e-6f);
  for (std::int64_t r = 0; r < R; ++r) {
    double ss = 0;
    for (std::int64_t c = 0; c < C; ++c) ss += double(x.view()(r, c)) * x.view()(r, c);
    const double inv = 1.0 / std::sqrt(ss / C + 1e-6);
    for (std::int64_t c = 0; c < C; ++c)
      REQUIRE(y.view()(r, c) == Approx(x.view()(r, c) * inv * (1.0 + w.view()(c))).epsilon(1e-5));
  }
}

TEST_CASE("reference rotary_embedding is rotate-half RoPE at positions offset + t", "[unit][text]") {
  const std::int64_t B = 2, T = 6, H = 3, D = 8;
  const std::int64_t offset = GENERATE(std::int64_t{0}, std::int64_t{5});
  auto x = random_tensor<float, 4>({B, T, H, D}, 4);  // (B, T, H, D)
  Tensor<float, 4, reference_backend> y({B, T, H, D});
  std::copy(x.data(), x.data() + x.numel(), y.data());
  reference::Context ctx;
  ops::rotary_embedding<reference::Context, float>(ctx, y.view(), 10000.0f, offset);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t < T; ++t)
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t i = 0; i < D; ++i) {
          const std::int64_t f = i % (D / 2);
          const double angle = double(offset + t) / std::pow(10000.0, 2.0 * f / D);
          const double rot = i < D / 2 ? -double(x.view()(b, t, h, i + D / 2)) : double(x.view()(b, t, h, i - D / 2));
          const double want = x.view()(b, t, h, i) * std::cos(angle) + rot * std::sin(angle);
          REQUIRE(y.view()(b, t, h, i) == Approx(want).margin(1e-5));
        }
}

TEST_CASE("reference attention_softmax: soft-cap, causal, padding and sliding window", "[unit][text]") {
  const std::int64_t B = 2, H = 2, T = 7;
  const float cap = GENERATE(0.0f, 2.0f);
  const std::int64_t window = GENERATE(std::int64_t{0}, std::int64_t{3});
  auto s = random_tensor<float, 4>({B, H, T, T}, 5, 6.0f);  // (B, H, Tq, Tk)
  Tensor<float, 4, reference_backend> p({B, H, T, T});
  std::copy(s.data(), s.data() + s.numel(), p.data());
  std::vector<std::int64_t> mask{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0};  // row 1: 4 tokens then padding
  reference::Context ctx;
  ops::attention_softmax<reference::Context, float>(ctx, p.view(), TensorView<const std::int64_t, 2>(mask.data(), {B, T}),
                                                    {cap, true, window});
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t i = 0; i < T; ++i) {
        std::vector<double> e(T, 0.0);
        double mx = -1e300, sum = 0;
        auto visible = [&](std::int64_t j) { return mask[b * T + j] && j <= i && (window == 0 || i - j < window); };
        for (std::int64_t j = 0; j < T; ++j) {
          double v = s.view()(b, h, i, j);
          if (cap > 0) v = cap * std::tanh(v / cap);
          e[j] = v;
          if (visible(j)) mx = std::max(mx, v);
        }
        for (std::int64_t j = 0; j < T; ++j) sum += visible(j) ? std::exp(e[j] - mx) : 0.0;
        if (sum == 0.0) {  // no visible key (window over padding): PyTorch's all-lowest row gives uniform weights
          for (std::int64_t j = 0; j < T; ++j) REQUIRE(p.view()(b, h, i, j) == Approx(1.0 / T));
          continue;
        }
        for (std::int64_t j = 0; j < T; ++j)
          REQUIRE(p.view()(b, h, i, j) == Approx(visible(j) ? std::exp(e[j] - mx) / sum : 0.0).margin(1e-6));
      }
}

TEST_CASE("text op errors name the op and the shapes", "[unit][text]") {
  reference::Context ctx;
  Tensor<float, 2, reference_backend> x({3, 8}), y({3, 7});
  Tensor<float, 1, reference_backend> w({8});
  REQUIRE_THROWS_WITH((ops::gemma_rms_norm<reference::Context, float, 2>(ctx, x.view(), w.view(), y.view(), 1e-6f)),
                      Catch::Contains("[gemma_rms_norm]") && Catch::Contains("(3, 7)"));
  Tensor<float, 4, reference_backend> q({1, 2, 3, 5});
  REQUIRE_THROWS_WITH((ops::rotary_embedding<reference::Context, float>(ctx, q.view(), 1e4f)),
                      Catch::Contains("[rotary_embedding]"));
  Tensor<float, 4, reference_backend> s({2, 1, 4, 4});
  std::vector<std::int64_t> m(3, 1);
  REQUIRE_THROWS_WITH((ops::attention_softmax<reference::Context, float>(ctx, s.view(),
                                                                        TensorView<const std::int64_t, 2>(m.data(), {1, 3}), {})),
                      Catch::Contains("[attention_softmax]") && Catch::Contains("key mask"));
}
