// The transformer's extension points (dit/attention.hpp): attention processors per block, the linear attention's
// feature map, block-output and cross-attention-probability hooks, on the "small" diffusers fixture model.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <vector>

#include "dit/dit_case.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

namespace {
using HostBackends = std::tuple<
#ifdef SANA_WITH_ONEDNN
    onednn_backend,
#endif
    reference_backend>;

template <class B>
std::unique_ptr<dit::SanaTransformer<B, float>> small_model() {
  return dit::load_transformer<B, float>(test_context<B>(), dit_data("small/transformer"));
}
io::SafetensorsFile small_case(const char* io) { return io::SafetensorsFile::open(dit_data(std::string("small/") + io + ".safetensors")); }

template <class B>
Tensor<float, 4, reference_backend> run(dit::SanaTransformer<B, float>& m, const char* io = "square") {
  Workspace<B> ws;
  return run_case(m, small_case(io), ws);
}

bool same(const Tensor<float, 4, reference_backend>& a, const Tensor<float, 4, reference_backend>& b) {
  return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.numel(), b.data());
}
} // namespace

TEMPLATE_LIST_TEST_CASE("the built-in attention processors set explicitly give the built-in result bit for bit",
                        "[dit][extensions]", HostBackends) {
  using B = TestType;
  auto m = small_model<B>();
  const auto want = run(*m);
  m->set_self_attention(dit::linear_self_attention<B, float>());
  m->set_cross_attention(dit::softmax_cross_attention<B, float>());
  CHECK(m->has_extensions());
  CHECK(same(run(*m), want));
  m->clear_extensions();
  CHECK_FALSE(m->has_extensions());
  CHECK(same(run(*m), want));
}

TEMPLATE_LIST_TEST_CASE("a user self-attention replaces the chosen blocks only and sees their shapes", "[dit][extensions]",
                        HostBackends) {
  using B = TestType;
  auto m = small_model<B>();
  const auto want = run(*m);
  std::vector<std::size_t> calls;
  const std::int64_t chosen[] = {0, 1};
  m->set_self_attention(
      [&](const dit::SelfAttentionCall<B, float>& c) {
        calls.push_back(c.block);
        CHECK(c.q.shape() == c.out.shape());
        CHECK(c.q.size(1) == c.height * c.width);
        CHECK(c.q.size(2) % c.heads == 0);
        ops::linear_attention(c.ctx, c.q, c.k, c.v, c.out, c.heads);  // the built-in, composed by hand
      },
      chosen);
  CHECK(same(run(*m), want));
  CHECK(calls == std::vector<std::size_t>{0, 1});
  // Another feature map in block 1 changes the output.
  m->extensions(1).self_attention = dit::linear_self_attention<B, float>(FeatureMap::elu_plus_one);
  CHECK_FALSE(same(run(*m), want));
  CHECK_THROWS_WITH(m->extensions(99), Catch::Contains("block 99"));
}

TEST_CASE("feature maps and softmax self-attention agree across host backends", "[dit][extensions][parity]") {
#ifdef SANA_WITH_ONEDNN
  auto ref = small_model<reference_backend>();
  auto dnn = small_model<onednn_backend>();
  for (int variant = 0; variant < 3; ++variant) {
    INFO("variant " << variant);
    auto pick = [&](auto& model, auto tag) {
      using B = decltype(tag);
      if (variant == 0) model->set_self_attention(dit::linear_self_attention<B, float>(FeatureMap::elu_plus_one));
      if (variant == 1) model->set_self_attention(dit::softmax_self_attention<B, float>(7));  // chunked
      if (variant == 2) model->set_self_attention(dit::identity_self_attention<B, float>());
    };
    pick(ref, reference_backend{});
    pick(dnn, onednn_backend{});
    const auto a = run(*ref), b = run(*dnn);
    CHECK(relative_l2<float, 4>(b.view(), a.view()) <= 1e-5);
  }
#else
  SKIP("the oneDNN backend is not built");
#endif
}

TEST_CASE("softmax_self_attention computes softmax(q k^T / sqrt(d)) v per head", "[dit][extensions]") {
  reference::Context ctx;
  Workspace<reference_backend> ws;
  const std::int64_t Bn = 2, N = 6, H = 2, D = 4, C = H * D;
  auto q = random_tensor<float, 3>({Bn, N, C}, 1), k = random_tensor<float, 3>({Bn, N, C}, 2),
       v = random_tensor<float, 3>({Bn, N, C}, 3);
  Tensor<float, 3, reference_backend> out({Bn, N, C});
  dit::softmax_self_attention<reference_backend, float>(4)(
      dit::SelfAttentionCall<reference_backend, float>{ctx, ws, 0, q.view(), k.view(), v.view(), out.view(), H, 2, 3});
  for (std::int64_t b = 0; b < Bn; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t n = 0; n < N; ++n) {
        std::vector<double> p(static_cast<std::size_t>(N));
        double sum = 0;
        for (std::int64_t m = 0; m < N; ++m) {
          double dot = 0;
          for (std::int64_t j = 0; j < D; ++j) dot += double(q.view()(b, n, h * D + j)) * k.view()(b, m, h * D + j);
          p[static_cast<std::size_t>(m)] = std::exp(dot / std::sqrt(double(D)));
          sum += p[static_cast<std::size_t>(m)];
        }
        for (std::int64_t i = 0; i < D; ++i) {
          double want = 0;
          for (std::int64_t m = 0; m < N; ++m) want += p[static_cast<std::size_t>(m)] / sum * v.view()(b, m, h * D + i);
          CHECK(out.view()(b, n, h * D + i) == Approx(want).margin(1e-5));
        }
      }
}

TEMPLATE_LIST_TEST_CASE("block hooks read and modify the residual stream", "[dit][extensions]", HostBackends) {
  using B = TestType;
  auto m = small_model<B>();
  const auto want = run(*m);
  const std::int64_t blocks = m->config().num_layers;
  std::vector<std::size_t> seen;
  for (std::int64_t i = 0; i < blocks; ++i)
    m->extensions(static_cast<std::size_t>(i)).after_block = [&](const dit::BlockOutputCall<B, float>& c) {
      seen.push_back(c.block);
      CHECK(c.x.size(1) == c.height * c.width);
    };
  CHECK(same(run(*m), want));  // reading changes nothing
  CHECK(seen.size() == static_cast<std::size_t>(blocks));
  m->extensions(0).after_block = [](const dit::BlockOutputCall<B, float>& c) {
    ops::lincomb(c.ctx, std::vector<float>{0.5f}, std::vector<TensorView<const float, 3, space_t<B>>>{c.x}, c.x);
  };
  CHECK_FALSE(same(run(*m), want));
}

TEMPLATE_LIST_TEST_CASE("the cross-attention probability hook sees every query row once, rows sum to 1, masked keys 0",
                        "[dit][extensions]", HostBackends) {
  using B = TestType;
  auto m = small_model<B>();
  const auto f = small_case("mask");
  const auto mask = f.load<float, 2>("encoder_attention_mask");  // (B, L)
  const auto want = run(*m, "mask");
  std::set<std::pair<std::int64_t, std::int64_t>> rows;  // (item, token)
  double worst_sum = 0, worst_masked = 0;
  m->extensions(1).cross_probabilities = [&](std::int64_t item, std::int64_t n0, TensorView<const float, 3, space_t<B>> p) {
    const auto host = to_host<B>(test_context<B>(), p);  // (H, nc, L)
    const std::int64_t H = host.size(0), nc = host.size(1), L = host.size(2);
    for (std::int64_t t = 0; t < nc; ++t) rows.insert({item, n0 + t});
    for (std::int64_t hh = 0; hh < H; ++hh)
      for (std::int64_t t = 0; t < nc; ++t) {
        double sum = 0;
        for (std::int64_t l = 0; l < L; ++l) {
          const float pv = host.view()(hh, t, l);
          sum += pv;
          if (mask.view()(item, l) == 0.0f) worst_masked = std::max(worst_masked, double(pv));
        }
        worst_sum = std::max(worst_sum, std::abs(sum - 1.0));
      }
  };
  CHECK(same(run(*m, "mask"), want));
  const auto hs = f.load<float, 4>("hidden_states");
  CHECK(rows.size() == static_cast<std::size_t>(hs.size(0) * hs.size(2) * hs.size(3)));
  CHECK(worst_sum <= 1e-5);
  CHECK(worst_masked == 0.0);
}

TEMPLATE_LIST_TEST_CASE("on a PAG block the processor gets the items with real attention only", "[dit][extensions]",
                        HostBackends) {
  using B = TestType;
  auto m = small_model<B>();
  const auto want = run(*m, "pag");
  const auto f = small_case("pag");
  const std::int64_t Bn = f.load<float, 4>("hidden_states").size(0);
  const auto pag = pag_blocks_of(f);
  REQUIRE(!pag.empty());
  std::int64_t items = -1;
  m->extensions(static_cast<std::size_t>(pag[0])).self_attention = [&](const dit::SelfAttentionCall<B, float>& c) {
    items = c.q.size(0);
    ops::linear_attention(c.ctx, c.q, c.k, c.v, c.out, c.heads);
  };
  CHECK(same(run(*m, "pag"), want));
  CHECK(items == Bn - Bn / 2);
}
