// bench_custom_kernel: an own kernel against the library's op in Google Benchmark, with the installed helpers
// (random tensors, Sana's shapes, FLOP/byte counts, one registration per compiled backend, real time).
// The own kernel: the DiT's layer-norm + modulation written as a plain two-pass loop.
//   bench_custom_kernel [--benchmark_filter=...] [--benchmark_min_time=...] [...]
#include <cmath>
#include <string>

#include "sana/bench/benchmark.hpp"
#include "sana/bench/random.hpp"
#include "sana/bench/shapes.hpp"
#include "sana/ops.hpp"

using namespace sana;

namespace {
/// y = LayerNorm(x) · (1 + scale) + shift per row of (rows, C), fp32, no affine weights (Sana's norm1/norm2).
void my_layer_norm_modulated(const float* x, const float* shift, const float* scale, float* y, std::int64_t rows,
                             std::int64_t tokens, std::int64_t C, float eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * C;
    const std::int64_t b = r / tokens;  // batch item of this token row
    float mean = 0, var = 0;
    for (std::int64_t c = 0; c < C; ++c) mean += xr[c];
    mean /= static_cast<float>(C);
    for (std::int64_t c = 0; c < C; ++c) var += (xr[c] - mean) * (xr[c] - mean);
    const float inv = 1.0f / std::sqrt(var / static_cast<float>(C) + eps);
    for (std::int64_t c = 0; c < C; ++c)
      y[r * C + c] = (xr[c] - mean) * inv * (1.0f + scale[b * 2 * C + c]) + shift[b * 2 * C + c];
  }
}

std::string shape_name(const bench::DitOpShapes& s) {
  return std::string(s.channels == 1152 ? "0.6B" : "1.6B") + "/" + std::to_string(s.height * 32) + "px";
}

void register_shape(const bench::DitOpShapes& s) {
  const double rows = double(s.batch) * s.tokens;
  const bench::OpCost cost = bench::layer_norm_modulated_cost(rows, double(s.channels), sizeof(float));
  // The library's op on every compiled backend.
  bench::register_on_backends("library_layer_norm_modulated/" + shape_name(s),
                              [s, cost](auto tag, benchmark::State& st, auto& ctx) {
                                using B = decltype(tag);
                                const auto x = bench::random_tensor<float, 3, B>(ctx, {s.batch, s.tokens, s.channels}, 1);
                                const auto mod = bench::random_tensor<float, 2, B>(ctx, {s.batch, 2 * s.channels}, 2, 0.1f);
                                Tensor<float, 3, B> y({s.batch, s.tokens, s.channels});  // (B, N, C)
                                const auto m = mod.view();                              // (B, 2C) shift | scale
                                for (auto _ : st) {
                                  ops::layer_norm_modulated(ctx, x.view(), m.slice(1, 0, s.channels),
                                                            m.slice(1, s.channels, s.channels), y.view(), 1e-6f);
                                  backend_traits<B>::synchronize(ctx);
                                }
                                return cost;
                              });
  // The own kernel, on host memory.
  auto* b = benchmark::RegisterBenchmark(("my_layer_norm_modulated/" + shape_name(s)).c_str(), [s, cost](benchmark::State& st) {
    reference::Context ctx;
    const auto x = bench::random_tensor<float, 3, reference_backend>(ctx, {s.batch, s.tokens, s.channels}, 1);
    const auto mod = bench::random_tensor<float, 2, reference_backend>(ctx, {s.batch, 2 * s.channels}, 2, 0.1f);
    Tensor<float, 3, reference_backend> y({s.batch, s.tokens, s.channels});
    for (auto _ : st) {
      my_layer_norm_modulated(x.data(), mod.data(), mod.data() + s.channels, y.data(), s.batch * s.tokens, s.tokens,
                              s.channels, 1e-6f);
      benchmark::DoNotOptimize(y.data());
    }
    bench::set_rates(st, cost);
  });
  b->UseRealTime();
}
} // namespace

int main(int argc, char** argv) {
  for (bool large : {false, true}) register_shape(bench::dit_op_shapes(large, 512));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
