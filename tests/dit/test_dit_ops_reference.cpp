// The Linear-DiT reference kernels against independent double-precision loops written from the
// PyTorch/diffusers definitions (nn.LayerNorm, RMSNorm, SanaLinearAttnProcessor2_0, SDPA, GLUMBConv).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "sana/ops.hpp"
#include "support/compare.hpp"

using namespace sana;
using sana::test::random_tensor;

namespace {
using HostT3 = Tensor<float, 3, reference_backend>;
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
} // namespace

TEST_CASE("reference modulated LayerNorm equals LN(x) * (1 + scale) + shift", "[unit][dit]") {
  const std::int64_t B = 2, N = 7, C = GENERATE(std::int64_t{1}, std::int64_t{24}, std::int64_t{1152});
  auto x = random_tensor<float, 3>({B, N, C}, 1, 3.0f);     // (B, N, C)
  auto mod = random_tensor<float, 3>({B, 6, C}, 2);          // (B, 6, C) as the block's table
  HostT3 y({B, N, C});                                       // (B, N, C)
  reference::Context ctx;
  auto m = mod.view();
  const TensorView<const float, 2> shift(m.data(), {B, C}, {6 * C, 1}), scale(m.data() + C, {B, C}, {6 * C, 1});
  ops::layer_norm_modulated(ctx, x.view(), shift, scale, y.view(), 1e-6f);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t n = 0; n < N; ++n) {
      double mean = 0, var = 0;
      for (std::int64_t c = 0; c < C; ++c) mean += x.view()(b, n, c);
      mean /= C;
      for (std::int64_t c = 0; c < C; ++c) var += (x.view()(b, n, c) - mean) * (x.view()(b, n, c) - mean);
      var /= C;
      for (std::int64_t c = 0; c < C; ++c) {
        const double want = (x.view()(b, n, c) - mean) / std::sqrt(var + 1e-6) * (1 + m(b, 1, c)) + m(b, 0, c);
        REQUIRE(y.view()(b, n, c) == Approx(want).margin(2e-5));
      }
    }
}

TEST_CASE("reference RMSNorm across heads equals x * rsqrt(mean(x^2) + eps) * w", "[unit][dit]") {
  const std::int64_t B = 2, N = 5, C = GENERATE(std::int64_t{8}, std::int64_t{2240});
  auto x = random_tensor<float, 3>({B, N, C}, 3, 2.0f);
  auto w = random_tensor<float, 1>({C}, 4);
  HostT3 y({B, N, C});
  reference::Context ctx;
  ops::rms_norm(ctx, x.view(), w.view(), y.view(), 1e-5f);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t n = 0; n < N; ++n) {
      double ms = 0;
      for (std::int64_t c = 0; c < C; ++c) ms += double(x.view()(b, n, c)) * x.view()(b, n, c);
      ms /= C;
      for (std::int64_t c = 0; c < C; ++c)
        REQUIRE(y.view()(b, n, c) == Approx(x.view()(b, n, c) / std::sqrt(ms + 1e-5) * w.view()(c)).margin(1e-5));
    }
}

TEST_CASE("reference linear attention equals diffusers' padded-V formulation, for each feature map", "[unit][dit]") {
  const FeatureMap fm = GENERATE(FeatureMap::relu, FeatureMap::elu_plus_one, FeatureMap::identity);
  // φ in double, as the formula is written (identity gets positive-leaning data below).
  auto phi = [fm](float x) -> double {
    if (fm == FeatureMap::relu) return std::max(0.0f, x);
    if (fm == FeatureMap::elu_plus_one) return x > 0 ? x + 1.0 : std::exp(static_cast<double>(x));
    return x;
  };
  const std::int64_t B = 2, N = GENERATE(std::int64_t{1}, std::int64_t{37}), H = 3, D = GENERATE(std::int64_t{4}, std::int64_t{32});
  const std::int64_t C = H * D;
  // q, k, v as slices of one fused (B, N, 3C) projection, like the model uses them.
  auto qkv = random_tensor<float, 3>({B, N, 3 * C}, 5);
  if (fm == FeatureMap::identity)
    for (std::int64_t i = 0; i < qkv.numel(); ++i) qkv.data()[i] += 0.8f;
  HostT3 out({B, N, C});
  reference::Context ctx;
  auto f = qkv.view();
  auto q = f.slice(2, 0, C), k = f.slice(2, C, C), v = f.slice(2, 2 * C, C);
  ops::linear_attention(ctx, q, k, v, out.view(), H, 1e-15f, fm);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h) {
      // scores = pad(V, ones row) (D+1, N) @ relu(K)^T (N, D); out' = scores @ relu(Q)^T; out = out'[:D] / (out'[D] + 1e-15)
      std::vector<double> scores((D + 1) * D, 0.0);
      for (std::int64_t i = 0; i <= D; ++i)
        for (std::int64_t j = 0; j < D; ++j)
          for (std::int64_t n = 0; n < N; ++n) {
            const double vi = i < D ? v(b, n, h * D + i) : 1.0;
            scores[i * D + j] += vi * phi(k(b, n, h * D + j));
          }
      for (std::int64_t n = 0; n < N; ++n) {
        std::vector<double> o(D + 1, 0.0);
        for (std::int64_t i = 0; i <= D; ++i)
          for (std::int64_t j = 0; j < D; ++j) o[i] += scores[i * D + j] * phi(q(b, n, h * D + j));
        for (std::int64_t i = 0; i < D; ++i) {
          const double want = o[i] / (o[D] + 1e-15);
          REQUIRE(out.view()(b, n, h * D + i) == Approx(want).epsilon(1e-4).margin(1e-5));
        }
      }
    }
}

TEST_CASE("reference cross-attention equals SDPA with an additive key bias", "[unit][dit]") {
  const std::int64_t B = 2, N = GENERATE(std::int64_t{1}, std::int64_t{19}), L = 11, H = 2;
  const std::int64_t D = GENERATE(std::int64_t{4}, std::int64_t{72});
  const std::int64_t C = H * D;
  const std::int64_t chunk = GENERATE(std::int64_t{1}, std::int64_t{8}, std::int64_t{64});
  auto q = random_tensor<float, 3>({B, N, C}, 6);
  auto kv = random_tensor<float, 3>({B, L, 2 * C}, 7);  // fused text K/V projection
  Tensor<float, 2, reference_backend> bias({B, L});
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t l = 0; l < L; ++l) bias.view()(b, l) = (b == 1 && l >= 4) ? -10000.0f : 0.0f;  // item 1 padded
  HostT3 out({B, N, C}), scores({H, chunk, L});
  reference::Context ctx;
  auto k = kv.view().slice(2, 0, C), v = kv.view().slice(2, C, C);
  ops::cross_attention(ctx, q.view(), k, v, std::optional<TensorView<const float, 2>>(bias.view()), out.view(), H,
                       scores.view());
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t n = 0; n < N; ++n) {
        std::vector<double> s(L);
        double mx = -1e300, sum = 0;
        for (std::int64_t l = 0; l < L; ++l) {
          double acc = 0;
          for (std::int64_t j = 0; j < D; ++j) acc += double(q.view()(b, n, h * D + j)) * k(b, l, h * D + j);
          s[l] = acc / std::sqrt(double(D)) + bias.view()(b, l);
          mx = std::max(mx, s[l]);
        }
        for (auto& e : s) sum += (e = std::exp(e - mx));
        for (std::int64_t j = 0; j < D; ++j) {
          double want = 0;
          for (std::int64_t l = 0; l < L; ++l) want += s[l] / sum * v(b, l, h * D + j);
          REQUIRE(out.view()(b, n, h * D + j) == Approx(want).margin(1e-5));
        }
      }
}

TEST_CASE("reference depthwise 3x3 + GLU equals GLUMBConv's conv_depth, chunk and gate", "[unit][dit]") {
  const std::int64_t B = 2, Hh = GENERATE(std::int64_t{1}, std::int64_t{5}), W = 3, F = 6;
  auto u = random_tensor<float, 4>({B, Hh, W, 2 * F}, 8);  // (B, H, W, 2F) channels-last
  auto w = random_tensor<float, 4>({2 * F, 1, 3, 3}, 9);
  auto bias = random_tensor<float, 1>({2 * F}, 10);
  Tensor<float, 4, reference_backend> y({B, Hh, W, F});
  reference::Context ctx;
  ops::depthwise_glu(ctx, u.view(), w.view(), bias.view(), y.view());
  auto conv = [&](std::int64_t b, std::int64_t i, std::int64_t j, std::int64_t c) {
    double acc = bias.view()(c);
    for (int ky = 0; ky < 3; ++ky)
      for (int kx = 0; kx < 3; ++kx) {
        const std::int64_t ii = i + ky - 1, jj = j + kx - 1;
        if (ii >= 0 && ii < Hh && jj >= 0 && jj < W) acc += double(w.view()(c, 0, ky, kx)) * u.view()(b, ii, jj, c);
      }
    return acc;
  };
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t i = 0; i < Hh; ++i)
      for (std::int64_t j = 0; j < W; ++j)
        for (std::int64_t c = 0; c < F; ++c) {
          const double g = conv(b, i, j, F + c);
          REQUIRE(y.view()(b, i, j, c) == Approx(conv(b, i, j, c) * g * sigmoid(g)).margin(1e-5));
        }
}

TEST_CASE("reference gated residual equals x + gate * y", "[unit][dit]") {
  const std::int64_t B = 2, N = 4, C = 5;
  auto x = random_tensor<float, 3>({B, N, C}, 11);
  auto x0 = random_tensor<float, 3>({B, N, C}, 11);
  auto y = random_tensor<float, 3>({B, N, 2 * C}, 12);
  auto g = random_tensor<float, 2>({B, C}, 13);
  reference::Context ctx;
  auto ys = y.view().slice(2, C, C);
  ops::gated_residual(ctx, x.view(), ys, std::optional<TensorView<const float, 2>>(g.view()));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t c = 0; c < C; ++c)
        REQUIRE(x.view()(b, n, c) == Approx(double(x0.view()(b, n, c)) + double(g.view()(b, c)) * ys(b, n, c)).margin(1e-6));
}

TEST_CASE("Linear-DiT ops reject bad shapes with the op's name", "[unit][dit]") {
  reference::Context ctx;
  auto x = random_tensor<float, 3>({1, 4, 6}, 1);
  HostT3 y({1, 4, 6});
  auto w = random_tensor<float, 1>({5}, 2);
  REQUIRE_THROWS_WITH(ops::rms_norm(ctx, x.view(), w.view(), y.view(), 1e-5f), Catch::Contains("[rms_norm]"));
  REQUIRE_THROWS_WITH(ops::linear_attention(ctx, x.view(), x.view(), x.view(), y.view(), 4),
                      Catch::Contains("[linear_attention]") && Catch::Contains("4 heads"));
  Tensor<float, 4, reference_backend> u({1, 2, 2, 6}), dw({6, 1, 3, 3}), out({1, 2, 2, 2});
  Tensor<float, 1, reference_backend> db({6});
  REQUIRE_THROWS_WITH(ops::depthwise_glu(ctx, u.view(), dw.view(), db.view(), out.view()), Catch::Contains("[depthwise_glu]"));
}
