// The real DC-AE f32c32 decoder (random weights, fp32) on the oneDNN CPU backend: time, GFLOP/s,
// workspace high-water mark and peak-RSS delta against the largest single activation tensor.
//   bench_dcae                         decode at 512² (latent 16²), the default run
//   SANA_BENCH_SLOW=1 bench_dcae       adds decode at 1024² (~8.4 TFLOP; minutes on 2 cores)
// Tiling memory: a decoder with the f32c32 structure at 1/8 of its widths, tiled with a fixed 512 px
// tile at 1024² and 2048², shows the workspace and RSS do not grow with the image; the real decoder's
// planned tiled workspace at those sizes is printed too (plan only, no run).
// The PyTorch CPU baseline for the same decoder is tools/reference/bench_dcae_torch.py
// (bench/dcae/run_dcae_bench.sh runs both and prints the ratio).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/bench/model_cost.hpp"
#include "sana/dcae/autoencoder.hpp"
#include "sana/dcae/tiling.hpp"

using namespace sana;
using B = onednn_backend;
using Model = dcae::AutoencoderDC<B, float>;

namespace {

/// Process memory from /proc/self/status, in bytes ("VmRSS", "VmHWM").
double proc_status_bytes(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::atof(line.c_str() + key.size() + 1) * 1024.0;
  return 0;
}
/// Resets the kernel's peak-RSS counter (VmHWM) to the current RSS.
void reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

void randomize(Model& m, std::uint32_t seed) {
  std::mt19937 g(seed);
  m.visit_parameters([&](const std::string& name, auto v) {
    const bool norm_w = name.find("norm") != std::string::npos && name.ends_with("weight");
    const bool var = name.ends_with("running_var");
    std::int64_t fan_in = v.numel() / std::max<std::int64_t>(v.size(0), 1);
    if (fan_in < 1) fan_in = 1;
    std::uniform_real_distribution<float> d(-1.0f / std::sqrt(float(fan_in)), 1.0f / std::sqrt(float(fan_in)));
    for (std::int64_t i = 0; i < v.numel(); ++i) v.data()[i] = (norm_w || var) ? 1.0f : (v.rank == 1 ? 0.0f : d(g));
  });
}

/// The largest single tensor diffusers' decoder materialises for latent z (elements).
std::int64_t largest_activation(const dcae::Decoder<B, float>& d, const Shape<4>& z) {
  Shape<4> x{z[0], d.cfg.decoder.channels.back(), z[2], z[3]};
  std::int64_t best = dcae::numel4(x);
  for (std::size_t i = d.blocks.size(); i-- > 0;) {
    if (d.up[i].first) {
      const auto& u = d.up[i].second;
      const auto y = u.out_shape(x);
      best = std::max(best, u.interpolate ? 4 * dcae::numel4(x) : 4 * dcae::numel4(y));  // upsampled input / conv output
      best = std::max(best, dcae::numel4(y));
      x = y;
    }
    for (const auto& b : d.blocks[i]) {
      const std::int64_t m = dcae::numel4(x);
      best = std::max(best, b.type == dcae::BlockType::ResBlock ? m : 8 * m);  // GLUMBConv's 8C hidden map
    }
  }
  return std::max(best, dcae::numel4(d.out_shape(z)));
}

struct Loaded {
  onednn::Context ctx;
  Model model;
};
Loaded& real_decoder() {
  static Loaded* l = [] {
    auto* p = new Loaded{onednn::Context{}, Model(dcae::Config::sana_f32c32(), {false, true})};
    randomize(p->model, 1);
    return p;
  }();
  return *l;
}

void report_memory(benchmark::State& state, double rss_before, std::size_t high_water, std::int64_t largest) {
  const double mib = 1024.0 * 1024.0;
  const double rss_delta = proc_status_bytes("VmHWM") - rss_before;
  state.counters["ws_high_water_MiB"] = double(high_water) / mib;
  state.counters["peak_rss_delta_MiB"] = rss_delta / mib;
  state.counters["largest_activation_MiB"] = double(largest) * sizeof(float) / mib;
  state.counters["ws_over_largest"] = double(high_water) / (double(largest) * sizeof(float));
  state.counters["rss_over_largest"] = rss_delta / (double(largest) * sizeof(float));
}

void BM_DcaeDecodeF32c32(benchmark::State& state) {
  auto& l = real_decoder();
  const std::int64_t px = state.range(0), lat = px / 32;
  const Shape<4> zs{1, 32, lat, lat};
  Tensor<float, 4, B> z(zs);
  std::mt19937 g(2);
  std::normal_distribution<float> nd;
  for (std::int64_t i = 0; i < z.numel(); ++i) z.data()[i] = nd(g);
  Tensor<float, 4, B> out(l.model.decoder.out_shape(zs));
  std::fill(out.data(), out.data() + out.numel(), 0.0f);
  const double rss_before = proc_status_bytes("VmRSS");
  reset_peak_rss();
  Workspace<B> ws;
  for (auto _ : state) {
    l.model.decode(l.ctx, ws, z.view(), out.view());
    benchmark::DoNotOptimize(out.data());
    state.PauseTiming();
    ws.reset();
    state.ResumeTiming();
  }
  report_memory(state, rss_before, ws.high_water(), largest_activation(l.model.decoder, zs));
  state.counters["planned_MiB"] = double(l.model.decoder.plan_bytes(zs)) / (1024.0 * 1024.0);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2 * bench::dcae_decoder_macs(l.model.decoder, zs) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["params_M"] = double(l.model.parameter_count()) * 1e-6;
}

/// f32c32's structure at 1/8 of its widths (EfficientViT stages keep head dim 32).
dcae::Config narrow_config() {
  auto c = dcae::Config::sana_f32c32();
  for (auto& ch : c.decoder.channels) ch /= 8;
  for (auto& ch : c.encoder.channels) ch /= 8;
  return c;
}

void BM_DcaeTiledDecodeNarrow(benchmark::State& state) {
  static onednn::Context ctx;
  static Model* m = [] {
    auto* p = new Model(narrow_config(), {false, true});
    randomize(*p, 3);
    return p;
  }();
  const std::int64_t px = state.range(0), lat = px / 32;
  dcae::Tiling t;  // diffusers' defaults: 512 px tiles, 448 px stride
  Tensor<float, 4, B> z(Shape<4>{1, 32, lat, lat});
  std::mt19937 g(4);
  std::normal_distribution<float> nd;
  for (std::int64_t i = 0; i < z.numel(); ++i) z.data()[i] = nd(g);
  Tensor<float, 4, B> out(Shape<4>{1, 3, px, px});
  std::fill(out.data(), out.data() + out.numel(), 0.0f);
  const double rss_before = proc_status_bytes("VmRSS");
  reset_peak_rss();
  Workspace<B> ws;
  for (auto _ : state) {
    dcae::tiled_decode(m->decoder, ctx, ws, z.view(), out.view(), t);
    benchmark::DoNotOptimize(out.data());
  }
  report_memory(state, rss_before, ws.high_water(), largest_activation(m->decoder, Shape<4>{1, 32, 16, 16}));
  state.counters["out_image_MiB"] = double(out.bytes()) / (1024.0 * 1024.0);
  // The real decoder's planned workspace for the same tiled decode (no run).
  const auto& real = real_decoder().model.decoder;
  state.counters["real_f32c32_tiled_plan_MiB"] = double(dcae::tiled_decode_bytes(real, 1, lat, t)) / (1024.0 * 1024.0);
  state.counters["real_f32c32_untiled_plan_MiB"] = double(real.plan_bytes(Shape<4>{1, 32, lat, lat})) / (1024.0 * 1024.0);
}

} // namespace

BENCHMARK(BM_DcaeDecodeF32c32)->Arg(512)->Iterations(2)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(BM_DcaeTiledDecodeNarrow)->Arg(1024)->Arg(2048)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

int main(int argc, char** argv) {
  if (const char* s = std::getenv("SANA_BENCH_SLOW"); s && std::string(s) == "1")
    benchmark::RegisterBenchmark("BM_DcaeDecodeF32c32_slow", BM_DcaeDecodeF32c32)
        ->Arg(1024)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
