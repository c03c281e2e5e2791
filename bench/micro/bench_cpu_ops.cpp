// The oneDNN backend's own kernels (AVX-512 where the CPU has it, threaded) beside the reference loops,
// at real Sana shapes: one op call per iteration, bf16 and fp32. Counters: GB/s of the tensors each op
// must read and write once (its floor is the memory bandwidth), and GFLOP/s for the linear attention.
#include <benchmark/benchmark.h>

#include <array>
#include <span>

#include "common/models.hpp"
#include "sana/backends/onednn/onednn.hpp"
#include "sana/core.hpp"
#include "sana/ops.hpp"

using namespace sana;

namespace {

template <class T, std::size_t R, class B>
Tensor<T, R, B> filled(const Shape<R>& s, std::uint32_t seed) {  // host backends: filled in place
  Tensor<T, R, B> t(s);
  bench::fill<T>(t.data(), t.numel(), seed, 1.0f);
  return t;
}

template <class B>
using Ctx = context_t<B>;

void bytes_counter(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// Self-attention of a DiT block: (2, N, 3C) fused q|k|v, C = heads x 32. range(0) = tokens, range(1) = C.
template <class B, class T>
void BM_LinearAttention(benchmark::State& state) {
  const std::int64_t N = state.range(0), C = state.range(1), heads = C / 32;
  Ctx<B> ctx;
  auto qkv = filled<T, 3, B>({2, N, 3 * C}, 1);
  Tensor<T, 3, B> out({2, N, C});
  const auto f = TensorView<const T, 3, space_t<B>>(qkv.view());
  for (auto _ : state) {
    ops::linear_attention(ctx, f.slice(2, 0, C), f.slice(2, C, C), f.slice(2, 2 * C, C), out.view(), heads);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 2 * 2 * N * C * 32 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  bytes_counter(state, double(sizeof(T)) * 2 * N * 4 * C);
}

/// Mix-FFN middle: (2, h, w, 2F) -> (2, h, w, F). range(0) = latent side, range(1) = F.
template <class B, class T>
void BM_DepthwiseGlu(benchmark::State& state) {
  const std::int64_t s = state.range(0), F = state.range(1);
  Ctx<B> ctx;
  auto u = filled<T, 4, B>({2, s, s, 2 * F}, 2);
  auto w = filled<T, 4, B>({2 * F, 1, 3, 3}, 3);
  auto b = filled<T, 1, B>({2 * F}, 4);
  Tensor<T, 4, B> y({2, s, s, F});
  for (auto _ : state) {
    ops::depthwise_glu(ctx, TensorView<const T, 4, space_t<B>>(u.view()), TensorView<const T, 4, space_t<B>>(w.view()),
                       TensorView<const T, 1, space_t<B>>(b.view()), y.view());
    benchmark::DoNotOptimize(y.data());
  }
  bytes_counter(state, double(sizeof(T)) * 2 * s * s * 3 * F);
}

/// adaLN: (2, N, C) normalised and modulated. range(0) = tokens, range(1) = C.
template <class B, class T>
void BM_LayerNormModulated(benchmark::State& state) {
  const std::int64_t N = state.range(0), C = state.range(1);
  Ctx<B> ctx;
  auto x = filled<T, 3, B>({2, N, C}, 5);
  auto mod = filled<T, 2, B>({2, 2 * C}, 6);
  Tensor<T, 3, B> y({2, N, C});
  const auto m = TensorView<const T, 2, space_t<B>>(mod.view());
  for (auto _ : state) {
    ops::layer_norm_modulated(ctx, TensorView<const T, 3, space_t<B>>(x.view()), m.slice(1, 0, C), m.slice(1, C, C),
                              y.view(), 1e-6f);
    benchmark::DoNotOptimize(y.data());
  }
  bytes_counter(state, double(sizeof(T)) * 2 * 2 * N * C);
}

/// Cross-attention softmax: (1, heads x N, 300) with a key bias. range(0) = tokens, range(1) = heads.
template <class B, class T>
void BM_Softmax(benchmark::State& state) {
  const std::int64_t N = state.range(0), H = state.range(1), L = 300;
  Ctx<B> ctx;
  auto x = filled<T, 3, B>({1, H * N, L}, 7);
  Tensor<T, 2, B> bias({1, L});
  for (std::int64_t j = 0; j < L; ++j) bias.data()[j] = convert<T>(j < 120 ? 0.0f : -10000.0f);  // a padded prompt
  for (auto _ : state) {
    ops::softmax(ctx, x.view(), std::optional(TensorView<const T, 2, space_t<B>>(bias.view())), 0.125f);
    benchmark::DoNotOptimize(x.data());
  }
  bytes_counter(state, double(sizeof(T)) * 2 * H * N * L);
}

MemoryFormat format_arg(const benchmark::State& state, int i) {
  return state.range(i) ? MemoryFormat::ChannelsLast : MemoryFormat::Contiguous;
}

/// DC-AE RMSNorm over channels. range(0) = channels, range(1) = side, range(2) = 1 for channels-last.
template <class B, class T>
void BM_ChannelRmsNorm(benchmark::State& state) {
  const std::int64_t C = state.range(0), s = state.range(1);
  const MemoryFormat f = format_arg(state, 2);
  Ctx<B> ctx;
  auto x = filled<T, 4, B>({1, C, s, s}, 8);
  auto w = filled<T, 1, B>({C}, 9);
  auto b = filled<T, 1, B>({C}, 10);
  Tensor<T, 4, B> y({1, C, s, s});
  const auto xv = format_view<const T, space_t<B>>(x.data(), x.shape(), f);  // (1, C, s, s)
  const auto yv = format_view<T, space_t<B>>(y.data(), y.shape(), f);        // (1, C, s, s)
  for (auto _ : state) {
    ops::channel_rms_norm(ctx, xv, TensorView<const T, 1, space_t<B>>(w.view()), static_cast<const T*>(b.data()),
                          static_cast<const T*>(nullptr), yv, 1e-5f);
    benchmark::DoNotOptimize(y.data());
  }
  bytes_counter(state, double(sizeof(T)) * 2 * C * s * s);
}

/// DC-AE GLUMBConv gate: (1, 2C, s, s) -> (1, C, s, s). range(0) = C, range(1) = side, range(2) = channels-last.
template <class B, class T>
void BM_DcaeGlu(benchmark::State& state) {
  const std::int64_t C = state.range(0), s = state.range(1);
  const MemoryFormat f = format_arg(state, 2);
  Ctx<B> ctx;
  auto x = filled<T, 4, B>({1, 2 * C, s, s}, 11);
  Tensor<T, 4, B> y({1, C, s, s});
  const auto xv = format_view<const T, space_t<B>>(x.data(), x.shape(), f);  // (1, 2C, s, s)
  const auto yv = format_view<T, space_t<B>>(y.data(), y.shape(), f);        // (1, C, s, s)
  for (auto _ : state) {
    ops::glu_silu(ctx, xv, yv);
    benchmark::DoNotOptimize(y.data());
  }
  bytes_counter(state, double(sizeof(T)) * 3 * C * s * s);
}

/// DC-AE multi-scale ReLU linear attention, 2 branches of (1, 3C, s, s), head_dim 32.
/// range(0) = C, range(1) = side, range(2) = channels-last.
template <class B, class T>
void BM_MultiscaleAttention(benchmark::State& state) {
  const std::int64_t C = state.range(0), s = state.range(1), P = s * s;
  const MemoryFormat f = format_arg(state, 2);
  Ctx<B> ctx;
  auto a = filled<T, 4, B>({1, 3 * C, s, s}, 12);
  auto b = filled<T, 4, B>({1, 3 * C, s, s}, 13);
  Tensor<T, 4, B> out({1, 2 * C, s, s});
  const std::array<TensorView<const T, 4, space_t<B>>, 2> qkv{format_view<const T, space_t<B>>(a.data(), a.shape(), f),
                                                               format_view<const T, space_t<B>>(b.data(), b.shape(), f)};
  const auto ov = format_view<T, space_t<B>>(out.data(), out.shape(), f);  // (1, 2C, s, s)
  for (auto _ : state) {
    ops::multiscale_attention(ctx, std::span<const TensorView<const T, 4, space_t<B>>>(qkv), ov, 32);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 2 * 2 * P * C * 33 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  bytes_counter(state, double(sizeof(T)) * 8 * C * P);
}

#define SANA_CPU_OP_BENCH(NAME, ARGS)                                            \
  BENCHMARK_TEMPLATE(NAME, onednn_backend, bf16) ARGS->UseRealTime();            \
  BENCHMARK_TEMPLATE(NAME, reference_backend, bf16) ARGS->UseRealTime();         \
  BENCHMARK_TEMPLATE(NAME, onednn_backend, float) ARGS->UseRealTime();           \
  BENCHMARK_TEMPLATE(NAME, reference_backend, float) ARGS->UseRealTime();

// 0.6B at 512² / 1024² (C 1152, F 2880), 1.6B at 1024² (C 2240, F 5600); DC-AE stage-0 map at 512² and 1024².
SANA_CPU_OP_BENCH(BM_LinearAttention, ->ArgNames({"tokens", "C"})->Args({256, 1152})->Args({1024, 1152})->Args({1024, 2240}))
SANA_CPU_OP_BENCH(BM_DepthwiseGlu, ->ArgNames({"side", "F"})->Args({16, 2880})->Args({32, 2880})->Args({32, 5600}))
SANA_CPU_OP_BENCH(BM_LayerNormModulated, ->ArgNames({"tokens", "C"})->Args({1024, 1152})->Args({1024, 2240}))
SANA_CPU_OP_BENCH(BM_Softmax, ->ArgNames({"tokens", "heads"})->Args({256, 16})->Args({1024, 20}))
// DC-AE at the 512² decode's shapes, NCHW (0) and channels-last (1, the format the oneDNN autoencoder uses).
SANA_CPU_OP_BENCH(BM_ChannelRmsNorm, ->ArgNames({"C", "side", "nhwc"})->ArgsProduct({{128}, {512}, {0, 1}})
                                         ->ArgsProduct({{512}, {128}, {0, 1}}))
SANA_CPU_OP_BENCH(BM_DcaeGlu, ->ArgNames({"C", "side", "nhwc"})->ArgsProduct({{2048}, {64}, {0, 1}}))
SANA_CPU_OP_BENCH(BM_MultiscaleAttention, ->ArgNames({"C", "side", "nhwc"})->ArgsProduct({{512}, {64}, {0, 1}}))

} // namespace

BENCHMARK_MAIN();
