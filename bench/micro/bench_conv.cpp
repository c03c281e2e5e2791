// DC-AE convolutions at real shapes on the oneDNN backend: ops::conv2d (plain NCHW) beside a raw
// oneDNN convolution that picks its own blocked layouts (the library's best case).
#include <benchmark/benchmark.h>

#include <dnnl.hpp>

#include <random>

#include "common/shapes.hpp"
#include "sana/backends/onednn/onednn.hpp"
#include "sana/core.hpp"
#include "sana/ops.hpp"

using namespace sana;

namespace {

template <class T, std::size_t R>
Tensor<T, R, onednn_backend> filled(const Shape<R>& s, std::uint32_t seed) {
  Tensor<T, R, onednn_backend> t(s);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = convert<T>(d(g));
  return t;
}

bench::ConvShape shape_of(const benchmark::State& s) {
  return {s.range(0), s.range(1), s.range(2), s.range(3), s.range(4)};
}
void set_counters(benchmark::State& state, const bench::ConvShape& c) {
  const double macs = double(c.c_out) * (c.c_in / c.groups) * c.k * c.k * c.hw * c.hw;
  state.counters["GFLOP/s"] = benchmark::Counter(2 * macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void BM_SanaConv2d(benchmark::State& state) {
  const auto c = shape_of(state);
  onednn::Context ctx;
  auto x = filled<T, 4>({1, c.c_in, c.hw, c.hw}, 1);
  auto w = filled<T, 4>({c.c_out, c.c_in / c.groups, c.k, c.k}, 2);
  auto b = filled<T, 1>({c.c_out}, 3);
  Tensor<T, 4, onednn_backend> y({1, c.c_out, c.hw, c.hw});
  for (auto _ : state) {
    ops::conv2d(ctx, TensorView<const T, 4>(x.view()), TensorView<const T, 4>(w.view()), TensorView<const T, 1>(b.view()),
                y.view(), ops::Conv2dParams::same(c.k, c.groups));
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, c);
}

template <class T>
void BM_RawOnednnConv(benchmark::State& state) {
  const auto c = shape_of(state);
  using dnnl::memory;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const auto dt = std::is_same_v<T, float> ? memory::data_type::f32 : memory::data_type::bf16;
  const memory::dims x_dims{1, c.c_in, c.hw, c.hw}, y_dims{1, c.c_out, c.hw, c.hw};
  const memory::dims w_dims = c.groups == 1 ? memory::dims{c.c_out, c.c_in, c.k, c.k}
                                            : memory::dims{c.groups, c.c_out / c.groups, c.c_in / c.groups, c.k, c.k};
  const memory::desc x_any(x_dims, dt, memory::format_tag::any), y_any(y_dims, dt, memory::format_tag::any),
      w_any(w_dims, dt, memory::format_tag::any), b_md({c.c_out}, dt, memory::format_tag::x);
  const memory::dims st{1, 1}, pad{c.k / 2, c.k / 2};
  dnnl::convolution_forward::primitive_desc pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, x_any,
                                      w_any, b_md, y_any, st, pad, pad),
      eng);
  memory x(pd.src_desc(), eng), w(pd.weights_desc(), eng), y(pd.dst_desc(), eng), b(b_md, eng);
  for (auto* m : {&x, &w, &y, &b}) std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
  dnnl::convolution_forward prim(pd);
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}});
    strm.wait();
  }
  set_counters(state, c);
}

void conv_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"Cin", "Cout", "HW", "k", "groups"});
  for (const auto& c : bench::kDcaeConvs) b->Args({c.c_in, c.c_out, c.hw, c.k, c.groups});
}

} // namespace

BENCHMARK_TEMPLATE(BM_SanaConv2d, float)->Apply(conv_shapes)->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_RawOnednnConv, float)->Apply(conv_shapes)->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_SanaConv2d, bf16)->Apply(conv_shapes)->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();
BENCHMARK_TEMPLATE(BM_RawOnednnConv, bf16)->Apply(conv_shapes)->Unit(benchmark::kMillisecond)->MinTime(0.2)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("backend", "onednn");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
