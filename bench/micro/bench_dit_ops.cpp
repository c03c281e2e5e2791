// The DiT's non-GEMM ops at real Sana shapes on every compiled backend (sana/bench/benchmark.hpp): linear attention
// (ReLU, and the ELU+1 feature map), cross-attention over 300 text tokens, the Mix-FFN's depthwise 3x3 conv + GLU, layer-norm +
// modulation. Batch 2 (CFG), 0.6B and 1.6B at 512², 1024², 2048²; fp32 and bf16. Real time, GFLOP/s and GB/s.
//   bench_dit_ops --benchmark_filter='linear_attention.*onednn'
#include <string>
#include <utility>

#include "sana/bench/benchmark.hpp"
#include "sana/bench/random.hpp"
#include "sana/ops.hpp"

using namespace sana;
using bench::DitOpShapes;

namespace {
std::string label(const char* op, const DitOpShapes& s, const char* dtype) {
  return std::string(op) + "/" + (s.channels == 1152 ? "0.6B" : "1.6B") + "/" + std::to_string(s.height * 32) + "px/" +
         dtype;
}

template <class T>
void register_shape(const DitOpShapes& s, const char* dtype) {
  const double elem = sizeof(T);
  for (const auto& [fm, op] : {std::pair{FeatureMap::relu, "linear_attention"},
                                std::pair{FeatureMap::elu_plus_one, "linear_attention_elu1"}})
    bench::register_on_backends(label(op, s, dtype), [s, elem, fm](auto tag, benchmark::State& st, auto& ctx) {
      using B = decltype(tag);
      const auto qkv = bench::random_tensor<T, 3, B>(ctx, {s.batch, s.tokens, 3 * s.channels}, 1);  // (B, N, 3C)
      Tensor<T, 3, B> out({s.batch, s.tokens, s.channels});                                          // (B, N, C)
      const auto v = qkv.view();
      for (auto _ : st) {
        ops::linear_attention(ctx, v.slice(2, 0, s.channels), v.slice(2, s.channels, s.channels),
                              v.slice(2, 2 * s.channels, s.channels), out.view(), s.heads, 1e-15f, fm);
        backend_traits<B>::synchronize(ctx);
      }
      return bench::linear_attention_cost(s, elem);
    });
  bench::register_on_backends(label("cross_attention", s, dtype), [s, elem](auto tag, benchmark::State& st, auto& ctx) {
    using B = decltype(tag);
    const std::int64_t Ci = s.cross_heads * s.cross_head_dim, chunk = std::min<std::int64_t>(s.tokens, 1024);
    const auto q = bench::random_tensor<T, 3, B>(ctx, {s.batch, s.tokens, Ci}, 2);       // (B, N, Ci)
    const auto kv = bench::random_tensor<T, 3, B>(ctx, {s.batch, s.text_tokens, 2 * Ci}, 3);  // (B, L, 2Ci)
    Tensor<T, 3, B> out({s.batch, s.tokens, Ci});                                          // (B, N, Ci)
    Tensor<T, 3, B> scores({s.cross_heads, chunk, s.text_tokens});                         // (H, chunk, L)
    for (auto _ : st) {
      ops::cross_attention(ctx, q.view(), kv.view().slice(2, 0, Ci), kv.view().slice(2, Ci, Ci), std::nullopt, out.view(),
                           s.cross_heads, scores.view());
      backend_traits<B>::synchronize(ctx);
    }
    return bench::cross_attention_cost(s, elem);
  });
  bench::register_on_backends(label("depthwise_glu", s, dtype), [s, elem](auto tag, benchmark::State& st, auto& ctx) {
    using B = decltype(tag);
    const std::int64_t F = s.ffn_hidden;
    const auto u = bench::random_tensor<T, 4, B>(ctx, {s.batch, s.height, s.width, 2 * F}, 4);  // (B, h, w, 2F)
    const auto w = bench::random_tensor<T, 4, B>(ctx, {2 * F, 1, 3, 3}, 5, 0.3f);              // (2F, 1, 3, 3)
    const auto b = bench::random_tensor<T, 1, B>(ctx, {2 * F}, 6, 0.1f);                       // (2F)
    Tensor<T, 4, B> y({s.batch, s.height, s.width, F});                                       // (B, h, w, F)
    for (auto _ : st) {
      ops::depthwise_glu(ctx, u.view(), w.view(), b.view(), y.view());
      backend_traits<B>::synchronize(ctx);
    }
    return bench::depthwise_glu_cost(s, elem);
  });
  bench::register_on_backends(label("layer_norm_modulated", s, dtype), [s, elem](auto tag, benchmark::State& st, auto& ctx) {
    using B = decltype(tag);
    const auto x = bench::random_tensor<T, 3, B>(ctx, {s.batch, s.tokens, s.channels}, 7);  // (B, N, C)
    const auto mod = bench::random_tensor<T, 2, B>(ctx, {s.batch, 2 * s.channels}, 8, 0.1f);  // (B, 2C) shift | scale
    Tensor<T, 3, B> y({s.batch, s.tokens, s.channels});                                      // (B, N, C)
    const auto m = mod.view();
    for (auto _ : st) {
      ops::layer_norm_modulated(ctx, x.view(), m.slice(1, 0, s.channels), m.slice(1, s.channels, s.channels), y.view(),
                                1e-6f);
      backend_traits<B>::synchronize(ctx);
    }
    return bench::layer_norm_modulated_cost(double(s.batch) * s.tokens, double(s.channels), elem);
  });
}
} // namespace

int main(int argc, char** argv) {
  for (const DitOpShapes& s : bench::all_dit_op_shapes()) {
    register_shape<float>(s, "f32");
    register_shape<bf16>(s, "bf16");
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
