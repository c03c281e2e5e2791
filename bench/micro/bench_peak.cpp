// The machine's measured fp32 peak: independent FMA chains in AVX-512 registers on every core.
// Benchmarks report their GFLOP/s against this number (docs/performance.md).
#include <benchmark/benchmark.h>

#include <immintrin.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace {

// 12 independent accumulators hide the FMA latency (4 cycles x 2 ports + margin).
__attribute__((target("avx512f"))) float fma_chains(std::int64_t iters) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

constexpr std::int64_t kIters = 1 << 22;
constexpr double kFlopsPerCall = double(kIters) * 12 * 16 * 2;

void BM_PeakFp32(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::vector<std::thread> pool;
    std::vector<float> sink(threads);
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sink[t] = fma_chains(kIters); });
    for (auto& th : pool) th.join();
    benchmark::DoNotOptimize(sink.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(kFlopsPerCall * threads * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

} // namespace

BENCHMARK(BM_PeakFp32)
    ->ArgName("threads")
    ->Apply([](benchmark::internal::Benchmark* b) {
      const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      b->Arg(1);
      if (cores > 1) b->Arg(cores);
    })
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
