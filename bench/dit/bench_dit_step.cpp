// One classifier-free-guided denoising step of the Sana transformer (batch 2 = [uncond, cond], L = 300
// text tokens) at the real 0.6B and 1.6B shapes, 512² and 1024², random weights, on the oneDNN backend.
// The text side (caption projection + per-block K/V) is computed inside the step here, as a plain
// diffusers forward does. GFLOP/s counts every multiply-add of the forward (sana-spec §8.1) x 2.
// 1024² cases take minutes on a small machine: they are registered only with SANA_BENCH_SLOW=1.
// tools/reference/dit_bench_torch.py measures the same step in PyTorch CPU for the ratio.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/dit/transformer.hpp"

using namespace sana;

namespace {

dit::TransformerConfig sana_config(bool large) {
  dit::TransformerConfig c;  // diffusers defaults are Sana 1.6B
  if (!large) {
    c.num_attention_heads = 36;
    c.num_layers = 28;
    c.num_cross_attention_heads = 16;
    c.cross_attention_head_dim = 72;
    c.cross_attention_dim = 1152;
  }
  return c;
}

/// Multiply-adds of one forward at batch 1 (every GEMM, the attention cores and the depthwise conv).
double forward_macs(const dit::TransformerConfig& c, double n, double l) {
  const double C = c.width(), Ci = c.cross_width(), F = c.ffn_hidden(), d = c.attention_head_dim;
  const double block = 4 * n * C * C + 2 * (d + 1) * n * C  // self-attention projections + linear attention
                       + 2 * n * C * Ci + 2 * l * C * Ci + 2 * n * l * Ci  // cross q/out, text k/v, QK^T + PV
                       + n * C * 2 * F + 9 * 2 * F * n + n * F * C;        // Mix-FFN
  const double outside = l * (c.caption_channels * C + C * C) + n * c.in_channels * C + n * C * c.out_channels +
                         256 * C + 7 * C * C;
  return c.num_layers * block + outside;
}

/// Deterministic pseudo-random fill, fast enough for billions of weights.
template <class T>
void fill(const TensorView<T, 1>& v, std::uint32_t seed, float scale) {
  std::uint32_t s = seed * 2654435761u + 1;
  for (std::int64_t i = 0; i < v.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    v.data()[i] = convert<T>(scale * (static_cast<float>(s >> 8) * (1.0f / 8388608.0f) - 1.0f));
  }
}

template <class T>
void BM_DitGuidedStep(benchmark::State& state) {
  const bool large = state.range(0) != 0;
  const std::int64_t px = state.range(1), hw = px / 32, L = 300, Bn = 2;
  const auto cfg = sana_config(large);
  onednn::Context ctx;
  dit::SanaTransformer<onednn_backend, T> model(cfg);
  std::uint32_t seed = 1;
  model.visit_parameters([&](const std::string&, const auto& v) {
    const float scale = v.rank >= 2 ? 1.0f / std::sqrt(static_cast<float>(v.numel() / v.size(0))) : 0.1f;
    fill<T>(TensorView<T, 1>(v.data(), {v.numel()}), seed++, scale);
  });
  Tensor<T, 4, onednn_backend> x({Bn, 32, hw, hw}), out({Bn, 32, hw, hw});
  Tensor<T, 3, onednn_backend> y({Bn, L, cfg.caption_channels});
  fill<T>(TensorView<T, 1>(x.data(), {x.numel()}), 1001, 1.0f);
  fill<T>(TensorView<T, 1>(y.data(), {y.numel()}), 1002, 1.0f);
  const std::vector<float> t = {500.0f, 500.0f};
  typename dit::SanaTransformer<onednn_backend, T>::Inputs in;
  in.latents = x.view();
  in.text = y.view();
  in.timestep = t;
  Workspace<onednn_backend> ws;
  model.forward(ctx, ws, in, out.view());  // sizes the workspace and warms oneDNN's primitive cache
  ws.reset();
  const std::size_t allocs = ws.allocation_count();
  for (auto _ : state) {
    model.forward(ctx, ws, in, out.view());
    benchmark::DoNotOptimize(out.data());
  }
  if (ws.allocation_count() != allocs) state.SkipWithError("the workspace allocated inside the loop");
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * Bn * forward_macs(cfg, double(hw * hw), double(L)) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["TFLOP/step"] = 2.0 * Bn * forward_macs(cfg, double(hw * hw), double(L)) * 1e-12;
  state.counters["workspace_MB"] = double(ws.capacity()) / 1e6;
}

void args(benchmark::internal::Benchmark* b) {
  const bool slow = std::getenv("SANA_BENCH_SLOW") != nullptr;
  for (int large : {0, 1}) {
    b->Args({large, 512});
    if (slow) b->Args({large, 1024});
  }
  b->ArgNames({"1.6B", "px"})->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
}

} // namespace

BENCHMARK_TEMPLATE(BM_DitGuidedStep, float)->Apply(args);
BENCHMARK_TEMPLATE(BM_DitGuidedStep, bf16)->Apply(args);

BENCHMARK_MAIN();
