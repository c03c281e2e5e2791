// GEMM at real Sana shapes on the oneDNN backend: our ops::linear beside raw oneDNN matmul calls
// (same plain layout, and oneDNN's own prepacked weight layout, the best it can do).
#include <benchmark/benchmark.h>

#include <dnnl.hpp>

#include <random>

#include "common/shapes.hpp"
#include "sana/backends/onednn/onednn.hpp"
#include "sana/core.hpp"
#include "sana/ops.hpp"

using namespace sana;

namespace {

template <class T>
Tensor<T, 2, onednn_backend> filled(const Shape<2>& s, std::uint32_t seed) {
  Tensor<T, 2, onednn_backend> t(s);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = convert<T>(d(g));
  return t;
}

void set_counters(benchmark::State& state, std::int64_t m, std::int64_t k, std::int64_t n, std::size_t elem) {
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * k * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(double(m * k + k * n + m * n) * elem * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// y (M, N) = x (M, K) · W (N, K)^T + b through sana::ops::linear.
template <class T>
void BM_SanaLinear(benchmark::State& state) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  onednn::Context ctx;
  auto x = filled<T>({m, k}, 1);
  auto w = filled<T>({n, k}, 2);
  auto b = filled<T>({1, n}, 3);
  Tensor<T, 2, onednn_backend> y({m, n});
  const TensorView<const T, 1> bias(b.data(), {n});
  for (auto _ : state) {
    ops::linear(ctx, TensorView<const T, 2>(x.view()), TensorView<const T, 2>(w.view()), bias, y.view());
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, m, k, n, sizeof(T));
}

// The same product as a hand-written oneDNN matmul; `packed` lets oneDNN reorder W once
// into its preferred blocked layout (outside the timed loop), as a deployed model would.
template <class T>
void BM_RawOnednnMatmul(benchmark::State& state) {
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const bool packed = state.range(3) != 0;
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const auto dt = std::is_same_v<T, float> ? memory::data_type::f32 : memory::data_type::bf16;
  const memory::desc src({m, k}, dt, memory::format_tag::ab), dst({m, n}, dt, memory::format_tag::ab),
      bias({1, n}, dt, memory::format_tag::ab), w_plain({k, n}, dt, memory::format_tag::ba);
  const memory::desc w_query = packed ? memory::desc({k, n}, dt, memory::format_tag::any) : w_plain;
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, w_query, bias, dst), eng);
  auto x = filled<T>({m, k}, 1);
  auto w = filled<T>({n, k}, 2);
  auto b = filled<T>({1, n}, 3);
  Tensor<T, 2, onednn_backend> y({m, n});
  memory w_mem(w_plain, eng, w.data());
  memory w_used = w_mem;
  if (pd.weights_desc() != w_plain) {
    w_used = memory(pd.weights_desc(), eng);
    dnnl::reorder(w_mem, w_used).execute(strm, w_mem, w_used);
    strm.wait();
  }
  dnnl::matmul prim(pd);
  memory x_mem(src, eng, x.data()), y_mem(dst, eng, y.data()), b_mem(bias, eng, b.data());
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_used}, {DNNL_ARG_BIAS, b_mem}, {DNNL_ARG_DST, y_mem}});
    strm.wait();
  }
  set_counters(state, m, k, n, sizeof(T));
}

void linear_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  for (auto c : bench::kWidths)
    for (auto t : bench::kTokens) {
      b->Args({t, c, c});          // attention projection
      b->Args({t, c, 5 * c});      // Mix-FFN inverted 1x1 (C -> 2F)
    }
}
void raw_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N", "packed"});
  for (auto c : bench::kWidths)
    for (auto t : bench::kTokens)
      for (int p : {0, 1}) {
        b->Args({t, c, c, p});
        b->Args({t, c, 5 * c, p});
      }
}

} // namespace

BENCHMARK_TEMPLATE(BM_SanaLinear, float)->Apply(linear_shapes)->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_RawOnednnMatmul, float)->Apply(raw_shapes)->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_SanaLinear, bf16)->Apply(linear_shapes)->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_RawOnednnMatmul, bf16)->Apply(raw_shapes)->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("backend", "onednn");
  benchmark::AddCustomContext("onednn", std::to_string(dnnl::version()->major) + "." + std::to_string(dnnl::version()->minor) +
                                            "." + std::to_string(dnnl::version()->patch));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
