// GEMM at real Sana shapes on the CUDA backend: ops::linear beside a hand-written cuBLASLt call
// (same layouts, default heuristic), timed with CUDA events.
#include <benchmark/benchmark.h>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <random>
#include <vector>

#include "common/shapes.hpp"
#include "sana/backends/cuda/cuda.hpp"
#include "sana/core.hpp"
#include "sana/ops.hpp"

using namespace sana;

namespace {

template <class T>
Tensor<T, 2, cuda_backend> filled(cuda::Context& ctx, const Shape<2>& s, std::uint32_t seed) {
  std::vector<T> host(static_cast<std::size_t>(s[0] * s[1]));
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (auto& v : host) v = convert<T>(d(g));
  return to_backend<cuda_backend>(ctx, TensorView<const T, 2>(host.data(), s));
}

void set_counters(benchmark::State& state, std::int64_t m, std::int64_t k, std::int64_t n, std::size_t elem) {
  state.counters["TFLOP/s"] = benchmark::Counter(2.0 * m * k * n * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(double(m * k + k * n + m * n) * elem * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// Times `fn` with CUDA events on the context's stream; 10 launches per iteration.
template <class F>
void timed_loop(benchmark::State& state, cuda::Context& ctx, F&& fn) {
  auto stream = static_cast<cudaStream_t>(ctx.stream());
  for (int i = 0; i < 3; ++i) fn();  // warm-up: plan cache, heuristics, clocks
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  constexpr int kInner = 10;
  for (auto _ : state) {
    cudaEventRecord(start, stream);
    for (int i = 0; i < kInner; ++i) fn();
    cudaEventRecord(stop, stream);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms * 1e-3 / kInner);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

template <class T>
void BM_SanaLinearCuda(benchmark::State& state) {
  if (!cuda::device_available()) return state.SkipWithError("no CUDA device");
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  cuda::Context ctx;
  auto x = filled<T>(ctx, {m, k}, 1);
  auto w = filled<T>(ctx, {n, k}, 2);
  auto b = filled<T>(ctx, {1, n}, 3);
  Tensor<T, 2, cuda_backend> y({m, n});
  const TensorView<const T, 1, device_space> bias(b.data(), {n});
  timed_loop(state, ctx, [&] {
    ops::linear(ctx, TensorView<const T, 2, device_space>(x.view()), TensorView<const T, 2, device_space>(w.view()), bias,
                y.view());
  });
  set_counters(state, m, k, n, sizeof(T));
}

#define LT_CHECK(x)                                                         \
  do {                                                                      \
    if ((x) != CUBLAS_STATUS_SUCCESS) return state.SkipWithError(#x " failed"); \
  } while (0)

/// Raw cuBLASLt: row-major y = x W^T + b computed as column-major y^T = W x^T with a BIAS epilogue.
template <class T>
void BM_RawCublasLt(benchmark::State& state) {
  if (!cuda::device_available()) return state.SkipWithError("no CUDA device");
  const std::int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  cuda::Context ctx;
  auto x = filled<T>(ctx, {m, k}, 1);
  auto w = filled<T>(ctx, {n, k}, 2);
  auto b = filled<T>(ctx, {1, n}, 3);
  Tensor<T, 2, cuda_backend> y({m, n});
  const cudaDataType_t dt = std::is_same_v<T, float> ? CUDA_R_32F : std::is_same_v<T, bf16> ? CUDA_R_16BF : CUDA_R_16F;
  cublasLtHandle_t lt;
  LT_CHECK(cublasLtCreate(&lt));
  cublasLtMatmulDesc_t op;
  LT_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
  LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
  const void* bias_ptr = b.data();
  LT_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_ptr, sizeof(bias_ptr)));
  cublasLtMatrixLayout_t la, lb, lc;  // column-major: W^T is (k x n) read transposed, x^T (k x m), y^T (n x m)
  LT_CHECK(cublasLtMatrixLayoutCreate(&la, dt, k, n, k));
  LT_CHECK(cublasLtMatrixLayoutCreate(&lb, dt, k, m, k));
  LT_CHECK(cublasLtMatrixLayoutCreate(&lc, dt, n, m, n));
  void* workspace = nullptr;
  const std::size_t ws_bytes = 32u << 20;
  cudaMalloc(&workspace, ws_bytes);
  cublasLtMatmulPreference_t pref;
  LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  LT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof(ws_bytes)));
  cublasLtMatmulHeuristicResult_t heur{};
  int found = 0;
  LT_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &heur, &found));
  if (found == 0) return state.SkipWithError("no cuBLASLt algorithm");
  const float alpha = 1.0f, beta = 0.0f;
  auto stream = static_cast<cudaStream_t>(ctx.stream());
  timed_loop(state, ctx, [&] {
    cublasLtMatmul(lt, op, &alpha, w.data(), la, x.data(), lb, &beta, y.data(), lc, y.data(), lc, &heur.algo, workspace,
                   ws_bytes, stream);
  });
  cudaFree(workspace);
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(lc);
  cublasLtMatmulDescDestroy(op);
  cublasLtDestroy(lt);
  set_counters(state, m, k, n, sizeof(T));
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  for (auto c : bench::kWidths)
    for (auto t : bench::kTokens) {
      b->Args({2 * t, c, c});      // attention projection, CFG batch 2
      b->Args({2 * t, c, 5 * c});  // Mix-FFN inverted 1x1
    }
}

} // namespace

BENCHMARK_TEMPLATE(BM_SanaLinearCuda, bf16)->Apply(shapes)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_RawCublasLt, bf16)->Apply(shapes)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_SanaLinearCuda, float)->Apply(shapes)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_RawCublasLt, float)->Apply(shapes)->UseManualTime()->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("backend", "cuda");
  if (cuda::device_available()) benchmark::AddCustomContext("device", cuda::device_name());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
