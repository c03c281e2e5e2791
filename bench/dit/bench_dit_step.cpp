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

#include "common/models.hpp"
#include "sana/backends/onednn/onednn.hpp"
#include "sana/dit/transformer.hpp"

using namespace sana;

namespace {

template <class T>
void BM_DitGuidedStep(benchmark::State& state) {
  const bool large = state.range(0) != 0;
  const std::int64_t px = state.range(1), hw = px / 32, L = 300, Bn = 2;
  const auto cfg = bench::sana_config(large);
  onednn::Context ctx;
  dit::SanaTransformer<onednn_backend, T> model(cfg);
  bench::randomize<onednn_backend, T>(ctx, [&](auto&& f) { model.visit_parameters(f); }, 1);
  Tensor<T, 4, onednn_backend> x({Bn, 32, hw, hw}), out({Bn, 32, hw, hw});
  Tensor<T, 3, onednn_backend> y({Bn, L, cfg.caption_channels});
  bench::fill<T>(x.data(), x.numel(), 1001, 1.0f);
  bench::fill<T>(y.data(), y.numel(), 1002, 1.0f);
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
      benchmark::Counter(2.0 * Bn * bench::dit_forward_macs(cfg, double(hw * hw), double(L)) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["TFLOP/step"] = 2.0 * Bn * bench::dit_forward_macs(cfg, double(hw * hw), double(L)) * 1e-12;
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
