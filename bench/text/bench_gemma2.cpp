// Gemma-2-2B encoder layers at the real shape (hidden 2304, 8 q / 4 kv heads of 256, MLP 9216) with random
// weights on the oneDNN backend, over 300 tokens (a negative / no-CHI prompt) and 500 tokens (a CHI prompt).
// Two layers (one sliding, one global: the same work below 4096 tokens) and a 1000-row embedding table stand in
// for the 26-layer, 256000-row model; the full forward is 13x the measured one plus a final norm
// (the lookup's cost does not depend on the vocabulary). Baseline: tools/reference/bench_gemma2_cpu.py.
#include <benchmark/benchmark.h>

#include <random>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/bench/cost.hpp"
#include "sana/text/gemma2.hpp"

using namespace sana;

namespace {

text::Gemma2Config bench_config() {
  auto c = text::Gemma2Config::gemma2_2b();
  c.vocab_size = 1000;
  c.num_hidden_layers = 2;
  c.fill_default_layer_types();
  return c;
}

template <class T>
void BM_Gemma2Layers(benchmark::State& state) {
  const std::int64_t tokens = state.range(0);
  const auto cfg = bench_config();
  onednn::Context ctx;
  text::Gemma2Encoder<onednn_backend, T> enc(cfg);
  std::mt19937 g(0);
  std::normal_distribution<float> d(0.0f, 0.02f);
  enc.visit_parameters([&](const std::string&, auto& t) {
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = convert<T>(d(g));
  });
  std::vector<std::int64_t> ids(static_cast<std::size_t>(tokens)), mask(static_cast<std::size_t>(tokens), 1);
  for (std::int64_t i = 0; i < tokens; ++i) ids[i] = i == 0 ? 2 : 4 + (i * 37) % 990;
  Tensor<T, 3, onednn_backend> out({1, tokens, cfg.hidden_size});
  Workspace<onednn_backend> ws;
  const TensorView<const std::int64_t, 2> idv(ids.data(), {1, tokens}), mv(mask.data(), {1, tokens});
  enc.forward(ctx, ws, idv, mv, out.view());  // sizes the workspace, creates the primitives
  ws.reset();
  for (auto _ : state) {
    enc.forward(ctx, ws, idv, mv, out.view());
    ws.reset();
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = cfg.num_hidden_layers * bench::gemma2_layer_flops(cfg, double(tokens));
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The text ops alone at the 500-token shapes of one layer (they run as the reference loops on this backend).
template <class T>
void BM_AttentionSoftmax(benchmark::State& state) {
  const std::int64_t t = state.range(0);
  onednn::Context ctx;
  Tensor<T, 4, onednn_backend> s({1, 8, t, t});
  for (std::int64_t i = 0; i < s.numel(); ++i) s.data()[i] = convert<T>(float(i % 97) * 0.01f);
  std::vector<std::int64_t> mask(static_cast<std::size_t>(t), 1);
  const TensorView<const std::int64_t, 2> mv(mask.data(), {1, t});
  for (auto _ : state) {
    ops::attention_softmax<onednn::Context, T>(ctx, s.view(), mv, {50.0f, true, 0});
    benchmark::DoNotOptimize(s.data());
  }
  state.counters["GB/s"] = benchmark::Counter(2.0 * s.bytes() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void BM_RmsNormAndRope(benchmark::State& state) {
  const std::int64_t t = state.range(0);
  onednn::Context ctx;
  Tensor<T, 2, onednn_backend> x({t, 2304});
  Tensor<T, 1, onednn_backend> w({2304});
  Tensor<T, 4, onednn_backend> q({1, t, 8, 256});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data()[i] = convert<T>(float(i % 13) * 0.1f);
  for (std::int64_t i = 0; i < w.numel(); ++i) w.data()[i] = convert<T>(0.01f);
  for (std::int64_t i = 0; i < q.numel(); ++i) q.data()[i] = convert<T>(float(i % 7) * 0.1f);
  for (auto _ : state) {
    ops::gemma_rms_norm<onednn::Context, T, 2>(ctx, x.view(), w.view(), x.view(), 1e-6f);
    ops::rotary_embedding<onednn::Context, T>(ctx, q.view(), 10000.0f);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["GB/s"] = benchmark::Counter(2.0 * double(x.bytes() + q.bytes()) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

} // namespace

BENCHMARK_TEMPLATE(BM_AttentionSoftmax, float)->Arg(500)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_AttentionSoftmax, bf16)->Arg(500)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RmsNormAndRope, float)->Arg(500)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_RmsNormAndRope, bf16)->Arg(500)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Gemma2Layers, float)->Arg(300)->Arg(500)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_Gemma2Layers, bf16)->Arg(300)->Arg(500)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
