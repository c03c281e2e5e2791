// DC-AE reference kernels against independent double-precision loops written from the PyTorch
// definitions (diffusers RMSNorm on channels-last, BatchNorm2d eval, SanaMultiscaleLinearAttention,
// F.interpolate nearest, F.pixel_shuffle / pixel_unshuffle, repeat_interleave, mean, GLU).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "sana/backend/reference/kernels.hpp"
#include "sana/ops.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

namespace {
using HostT = Tensor<float, 4, reference_backend>;

void require_matches(const HostT& got, const std::vector<double>& want, double tol = 1e-6) {
  REQUIRE(static_cast<std::size_t>(got.numel()) == want.size());
  double num = 0, den = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    num += (got.data()[i] - want[i]) * (got.data()[i] - want[i]);
    den += want[i] * want[i];
  }
  const double err = std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
  INFO("relative L2 " << err);
  REQUIRE(err <= tol);
}
} // namespace

TEST_CASE("channel_rms_norm and batch_norm_eval follow the PyTorch definitions", "[dcae][unit]") {
  reference::Context ctx;
  const std::int64_t n = 2, c = 5, h = 3, w = 7;
  auto x = random_tensor<float, 4>({n, c, h, w}, 1, 2.0f);
  auto r = random_tensor<float, 4>({n, c, h, w}, 2);
  auto wt = random_tensor<float, 1>({c}, 3);
  auto b = random_tensor<float, 1>({c}, 4);
  auto mean = random_tensor<float, 1>({c}, 5);
  auto var = random_tensor<float, 1>({c}, 6);
  for (std::int64_t i = 0; i < c; ++i) var.data()[i] = std::abs(var.data()[i]) + 0.1f;
  HostT y({n, c, h, w});
  ops::channel_rms_norm<reference::Context, float>(ctx, x.view(), wt.view(), b.data(), r.data(), y.view(), 1e-5f);
  std::vector<double> want(static_cast<std::size_t>(x.numel()));
  for (std::int64_t bn = 0; bn < n; ++bn)
    for (std::int64_t p = 0; p < h * w; ++p) {
      double ss = 0;
      for (std::int64_t k = 0; k < c; ++k) ss += std::pow(x.data()[(bn * c + k) * h * w + p], 2);
      const double inv = 1.0 / std::sqrt(ss / c + 1e-5);
      for (std::int64_t k = 0; k < c; ++k) {
        const auto i = (bn * c + k) * h * w + p;
        want[i] = x.data()[i] * inv * wt.data()[k] + b.data()[k] + r.data()[i];
      }
    }
  require_matches(y, want);
  // In place on the residual, as the blocks use it.
  HostT y2({n, c, h, w});
  std::copy(r.data(), r.data() + r.numel(), y2.data());
  ops::channel_rms_norm<reference::Context, float>(ctx, x.view(), wt.view(), b.data(), y2.data(), y2.view(), 1e-5f);
  require_matches(y2, want);

  ops::batch_norm_eval<reference::Context, float>(ctx, x.view(), mean.view(), var.view(), wt.data(), b.data(), nullptr,
                                                  y.view(), 1e-5f);
  for (std::int64_t bn = 0; bn < n; ++bn)
    for (std::int64_t k = 0; k < c; ++k)
      for (std::int64_t p = 0; p < h * w; ++p) {
        const auto i = (bn * c + k) * h * w + p;
        want[i] = (x.data()[i] - mean.data()[k]) / std::sqrt(var.data()[k] + 1e-5) * wt.data()[k] + b.data()[k];
      }
  require_matches(y, want);
}

namespace {
/// diffusers' SanaMultiscaleAttnProcessor2_0 core on T (n, 2h·3d... ) groups, in double.
std::vector<double> attention_oracle(const std::vector<const HostT*>& branches, std::int64_t d, double eps) {
  const std::int64_t n = branches[0]->size(0), c3 = branches[0]->size(1), P = branches[0]->size(2) * branches[0]->size(3);
  const std::int64_t heads = c3 / (3 * d), nb = static_cast<std::int64_t>(branches.size());
  const bool linear = P > d;
  std::vector<double> out(static_cast<std::size_t>(n * nb * heads * d * P));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t g = 0; g < nb * heads; ++g) {
      const HostT& src = *branches[g / heads];
      const float* base = src.data() + (b * c3 + (g % heads) * 3 * d) * P;
      auto q = [&](std::int64_t j, std::int64_t p) { return std::max<double>(base[j * P + p], 0.0); };
      auto k = [&](std::int64_t j, std::int64_t p) { return std::max<double>(base[(d + j) * P + p], 0.0); };
      auto v = [&](std::int64_t j, std::int64_t p) { return static_cast<double>(base[(2 * d + j) * P + p]); };
      double* o = out.data() + (b * nb * heads + g) * d * P;
      if (linear) {
        // v padded with ones: scores = v_pad k^T (d+1, d); out = scores q; out[:d] / (out[d] + eps)
        std::vector<double> s((d + 1) * d, 0.0);
        for (std::int64_t i = 0; i <= d; ++i)
          for (std::int64_t j = 0; j < d; ++j)
            for (std::int64_t p = 0; p < P; ++p) s[i * d + j] += (i < d ? v(i, p) : 1.0) * k(j, p);
        for (std::int64_t p = 0; p < P; ++p) {
          double den = 0;
          for (std::int64_t j = 0; j < d; ++j) den += s[d * d + j] * q(j, p);
          for (std::int64_t i = 0; i < d; ++i) {
            double num = 0;
            for (std::int64_t j = 0; j < d; ++j) num += s[i * d + j] * q(j, p);
            o[i * P + p] = num / (den + eps);
          }
        }
      } else {
        // scores = k^T q (P, P), normalised over keys (dim 2 of (B, G, P, P)), out = v scores
        for (std::int64_t p = 0; p < P; ++p) {
          std::vector<double> a(P);
          double sum = 0;
          for (std::int64_t m = 0; m < P; ++m) {
            a[m] = 0;
            for (std::int64_t j = 0; j < d; ++j) a[m] += k(j, m) * q(j, p);
            sum += a[m];
          }
          for (std::int64_t i = 0; i < d; ++i) {
            double acc = 0;
            for (std::int64_t m = 0; m < P; ++m) acc += v(i, m) * a[m] / (sum + eps);
            o[i * P + p] = acc;
          }
        }
      }
    }
  return out;
}
} // namespace

TEST_CASE("multiscale_attention: linear and quadratic variants", "[dcae][unit]") {
  reference::Context ctx;
  struct Case { std::int64_t n, heads, d, h, w; int branches; };
  const auto cs = GENERATE(Case{1, 2, 4, 3, 5, 2}, Case{2, 1, 8, 2, 3, 2}, Case{1, 3, 2, 1, 1, 1}, Case{1, 2, 32, 33, 31, 2},
                           Case{1, 1, 32, 4, 8, 3});
  INFO("heads " << cs.heads << " d " << cs.d << " " << cs.h << "x" << cs.w << " branches " << cs.branches);
  std::vector<HostT> br;
  for (int b = 0; b < cs.branches; ++b) br.push_back(random_tensor<float, 4>({cs.n, 3 * cs.heads * cs.d, cs.h, cs.w}, 10 + b));
  std::vector<TensorView<const float, 4, host_space>> views;
  std::vector<const HostT*> ptrs;
  for (auto& b : br) {
    views.push_back(b.view());
    ptrs.push_back(&b);
  }
  HostT out({cs.n, cs.branches * cs.heads * cs.d, cs.h, cs.w});
  ops::multiscale_attention<reference::Context, float>(ctx, views, out.view(), cs.d);
  require_matches(out, attention_oracle(ptrs, cs.d, 1e-15), 1e-5);
}

TEST_CASE("upsample, pixel (un)shuffle, channel repeat / average, GLU", "[dcae][unit]") {
  reference::Context ctx;
  const std::int64_t n = 2, c = 4, h = 3, w = 5;
  auto x = random_tensor<float, 4>({n, c, h, w}, 7);
  auto at = [&](std::int64_t b, std::int64_t k, std::int64_t i, std::int64_t j) {
    return static_cast<double>(x.data()[((b * c + k) * h + i) * w + j]);
  };
  {  // nearest x2
    HostT y({n, c, 2 * h, 2 * w});
    ops::upsample_nearest2x<reference::Context, float>(ctx, x.view(), y.view());
    std::vector<double> want;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < c; ++k)
        for (std::int64_t i = 0; i < 2 * h; ++i)
          for (std::int64_t j = 0; j < 2 * w; ++j) want.push_back(at(b, k, i / 2, j / 2));
    require_matches(y, want, 0);
  }
  {  // pixel_shuffle(repeat_interleave(x, 2), 2), accumulated onto ones
    HostT y({n, c * 2 / 4, 2 * h, 2 * w});
    std::fill(y.data(), y.data() + y.numel(), 1.0f);
    ops::pixel_shuffle<reference::Context, float>(ctx, x.view(), y.view(), 2, 2, true);
    std::vector<double> want;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < c / 2; ++k)
        for (std::int64_t i = 0; i < 2 * h; ++i)
          for (std::int64_t j = 0; j < 2 * w; ++j) {
            const std::int64_t u = k * 4 + (i % 2) * 2 + (j % 2);  // pixel_shuffle input channel
            want.push_back(1.0 + at(b, u / 2, i / 2, j / 2));       // repeat_interleave: channel u comes from u / 2
          }
    require_matches(y, want);
  }
  {  // mean over groups of 8 of pixel_unshuffle(x2, 2), x2 (n, c, 2h, 2w)
    auto x2 = random_tensor<float, 4>({n, c, 2 * h, 2 * w}, 8);
    HostT y({n, c * 4 / 8, h, w});
    ops::pixel_unshuffle<reference::Context, float>(ctx, x2.view(), y.view(), 2, 8);
    std::vector<double> want;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < c / 2; ++k)
        for (std::int64_t i = 0; i < h; ++i)
          for (std::int64_t j = 0; j < w; ++j) {
            double s = 0;
            for (std::int64_t g = 0; g < 8; ++g) {
              const std::int64_t u = k * 8 + g, cc = u / 4, dy = (u / 2) % 2, dx = u % 2;
              s += x2.data()[((b * c + cc) * 2 * h + 2 * i + dy) * 2 * w + 2 * j + dx];
            }
            want.push_back(s / 8);
          }
    require_matches(y, want);
  }
  {  // repeat_interleave(x, 3) and mean over groups of 2
    HostT y({n, 3 * c, h, w});
    ops::repeat_channels<reference::Context, float>(ctx, x.view(), y.view());
    std::vector<double> want;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < 3 * c; ++k)
        for (std::int64_t i = 0; i < h; ++i)
          for (std::int64_t j = 0; j < w; ++j) want.push_back(at(b, k / 3, i, j));
    require_matches(y, want, 0);
    HostT m({n, c / 2, h, w});
    ops::average_channels<reference::Context, float>(ctx, x.view(), m.view());
    want.clear();
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < c / 2; ++k)
        for (std::int64_t i = 0; i < h; ++i)
          for (std::int64_t j = 0; j < w; ++j) want.push_back((at(b, 2 * k, i, j) + at(b, 2 * k + 1, i, j)) / 2);
    require_matches(m, want);
  }
  {  // hidden, gate = chunk(x, 2, dim=1); hidden * silu(gate)
    HostT y({n, c / 2, h, w});
    ops::glu_silu<reference::Context, float>(ctx, x.view(), y.view());
    std::vector<double> want;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < c / 2; ++k)
        for (std::int64_t i = 0; i < h; ++i)
          for (std::int64_t j = 0; j < w; ++j) {
            const double g = at(b, k + c / 2, i, j);
            want.push_back(at(b, k, i, j) * g / (1 + std::exp(-g)));
          }
    require_matches(y, want);
  }
}

TEST_CASE("DC-AE ops reject bad shapes with clear errors", "[dcae][unit][errors]") {
  reference::Context ctx;
  auto x = random_tensor<float, 4>({1, 6, 4, 4}, 1);
  auto w = random_tensor<float, 1>({5}, 2);
  HostT y({1, 6, 4, 4});
  REQUIRE_THROWS_WITH((ops::channel_rms_norm<reference::Context, float>(ctx, x.view(), w.view(), nullptr, nullptr, y.view())),
                      Catch::Contains("[channel_rms_norm]") && Catch::Contains("weight"));
  HostT bad({1, 6, 8, 7});
  REQUIRE_THROWS_WITH((ops::upsample_nearest2x<reference::Context, float>(ctx, x.view(), bad.view())),
                      Catch::Contains("[upsample_nearest2x]"));
  HostT s({1, 1, 8, 8});
  REQUIRE_THROWS_WITH((ops::pixel_shuffle<reference::Context, float>(ctx, x.view(), s.view(), 2)),
                      Catch::Contains("[pixel_shuffle]"));
  HostT g({1, 2, 4, 4});
  REQUIRE_THROWS_WITH((ops::glu_silu<reference::Context, float>(ctx, x.view(), g.view())), Catch::Contains("[glu]"));
  // Memory formats: one op's maps all NCHW or all channels-last; anything else (here a transposed view) is named.
  HostT cl_store({1, 6, 4, 4});
  const auto cl = format_view<float, host_space>(cl_store.data(), Shape<4>{1, 6, 4, 4}, MemoryFormat::ChannelsLast);
  auto all_w = random_tensor<float, 1>({6}, 3);
  REQUIRE_THROWS_WITH((ops::channel_rms_norm<reference::Context, float>(ctx, x.view(), all_w.view(), nullptr, nullptr, cl)),
                      Catch::Contains("[channel_rms_norm]") && Catch::Contains("all channels-last") &&
                          Catch::Contains("strides (96, 1, 24, 6)"));
  const TensorView<const float, 4, host_space> odd(x.data(), Shape<4>{1, 6, 4, 4}, Shape<4>{96, 16, 1, 4});  // H, W swapped
  HostT c_out({1, 6, 4, 4});
  REQUIRE_THROWS_WITH((ops::conv2d<reference::Context, float>(ctx, odd, random_tensor<float, 4>({6, 6, 1, 1}, 4).view(), c_out.view())),
                      Catch::Contains("[conv2d]") && Catch::Contains("contiguous NCHW or all channels-last"));
}

TEST_CASE("Channels-last maps give the NCHW results on the reference backend", "[dcae][unit]") {
  reference::Context ctx;
  const Shape<4> s{2, 5, 3, 4};
  auto x = random_tensor<float, 4>(s, 1);
  auto w = random_tensor<float, 1>({5}, 2);
  HostT want(s), got_store(s), x_store(s);
  ops::channel_rms_norm<reference::Context, float>(ctx, x.view(), w.view(), nullptr, nullptr, want.view());
  const auto xc = format_view<float, host_space>(x_store.data(), s, MemoryFormat::ChannelsLast);
  const auto yc = format_view<float, host_space>(got_store.data(), s, MemoryFormat::ChannelsLast);
  ops::copy(ctx, TensorView<const float, 4, host_space>(x.view()), xc);
  CHECK(has_format(xc, MemoryFormat::ChannelsLast));
  CHECK_FALSE(has_format(xc, MemoryFormat::Contiguous));
  CHECK(x_store.data()[1] == x.data()[s[2] * s[3]]);  // NHWC: channel 1 of pixel 0 comes second
  ops::channel_rms_norm<reference::Context, float>(ctx, xc, w.view(), nullptr, nullptr, yc);
  for (std::int64_t n = 0; n < s[0]; ++n)
    for (std::int64_t c = 0; c < s[1]; ++c)
      for (std::int64_t h = 0; h < s[2]; ++h)
        for (std::int64_t q = 0; q < s[3]; ++q) REQUIRE(yc(n, c, h, q) == want.view()(n, c, h, q));
}
