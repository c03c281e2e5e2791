// Convolutions at the DC-AE f32c32 decoder's shapes for a 1024² image, bf16, on the CUDA backend
// (ops::conv2d: cuBLASLt GEMMs for groups == 1 — pointwise directly, others through im2col — and the
// direct kernel for depthwise), timed with CUDA events. TFLOP/s counts 2·MACs; the floor at ~790
// TFLOP/s (a large bf16 GEMM on the H100) is the comparison.
#include <benchmark/benchmark.h>

#include <cuda_runtime.h>

#include <random>
#include <vector>

#include "sana/backends/cuda/cuda.hpp"
#include "sana/core.hpp"
#include "sana/ops.hpp"

using namespace sana;

namespace {

template <class T>
Tensor<T, 4, cuda_backend> filled(cuda::Context& ctx, const Shape<4>& s, std::uint32_t seed) {
  std::vector<T> host(static_cast<std::size_t>(s[0] * s[1] * s[2] * s[3]));
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (auto& v : host) v = convert<T>(d(g));
  return to_backend<cuda_backend>(ctx, TensorView<const T, 4>(host.data(), s));
}

/// args: channels in, channels out, spatial size, kernel, groups (1 or = channels)
void BM_ConvCuda(benchmark::State& state) {
  if (!cuda::device_available()) return state.SkipWithError("no CUDA device");
  using T = bf16;
  const std::int64_t ci = state.range(0), co = state.range(1), hw = state.range(2), k = state.range(3),
                     groups = state.range(4);
  cuda::Context ctx;
  auto x = filled<T>(ctx, {1, ci, hw, hw}, 1);
  auto w = filled<T>(ctx, {co, ci / groups, k, k}, 2);
  auto b = to_backend<cuda_backend>(ctx, TensorView<const T, 1>(std::vector<T>(static_cast<std::size_t>(co)).data(), {co}));
  Tensor<T, 4, cuda_backend> y({1, co, hw, hw});
  const auto p = ops::Conv2dParams::same(k, groups);
  auto run = [&] { ops::conv2d(ctx, x.view(), w.view(), b.view(), y.view(), p); };
  auto stream = static_cast<cudaStream_t>(ctx.stream());
  for (int i = 0; i < 3; ++i) run();
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (auto _ : state) {
    cudaEventRecord(start, stream);
    run();
    cudaEventRecord(stop, stream);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms * 1e-3);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  const double macs = double(co) * (ci / groups) * k * k * hw * hw;
  state.counters["TFLOP/s"] = benchmark::Counter(2 * macs * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

} // namespace

// DC-AE decoder at 1024²: stage widths 1024/1024/512/512/256/128 at 32/64/128/256/512/1024 px.
BENCHMARK(BM_ConvCuda)
    ->ArgNames({"ci", "co", "hw", "k", "g"})
    ->Args({1024, 1024, 32, 3, 1})
    ->Args({512, 512, 128, 3, 1})
    ->Args({256, 256, 512, 3, 1})
    ->Args({128, 128, 1024, 3, 1})
    ->Args({1024, 4096, 64, 1, 1})    // EfficientViT GLUMBConv inverted 1x1
    ->Args({4096, 4096, 64, 3, 4096}) // its depthwise 3x3 (direct kernel)
    ->Args({128, 3, 1024, 3, 1})      // conv_out
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
