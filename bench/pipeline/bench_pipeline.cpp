// Prompt to pixels, stage by stage: the whole SanaPipeline (Gemma-2 text encoder, the Linear DiT's
// denoising loop with classifier-free guidance, the DC-AE decoder) at the real 0.6B / 1.6B shapes with
// random weights, or any diffusers folder, on the CPU or the GPU. Prints per-stage medians, images/s,
// peak memory and the FLOP floor of the denoising loop; --json writes the same for bench/gpu.sh.
//
//   bench_pipeline --model 1.6B --backend cuda --dtype bf16 --size 1024 --steps 20 --batch 1
//   bench_pipeline --model tests/data/pipeline/tiny_sana --steps 4      (a folder: its own weights)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/models.hpp"
#include "sana/dcae/autoencoder.hpp"
#include "sana/pipeline/sana_pipeline.hpp"
#include "sana/text/prompt_encoder.hpp"
#ifdef SANA_WITH_ONEDNN
#include "sana/backends/onednn/onednn.hpp"
#endif
#ifdef SANA_WITH_CUDA
#include "sana/backends/cuda/cuda.hpp"
#endif

using namespace sana;
namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = R"(usage: bench_pipeline [flags]
  --model 0.6B|1.6B|DIR   real shapes with random weights, or a diffusers folder (default 0.6B)
  --backend cpu|cuda      (default cpu)          --dtype f32|bf16|f16   (default bf16)
  --size PX               square image side (default 1024)
  --steps N               Flow-DPM-Solver steps (default 20)      --cfg W   guidance (default 4.5)
  --batch N               images per call (default 1)             --repeats N   timed calls (default 3)
  --text-layers N         Gemma-2 depth for random models (default 26; fewer for a quick CPU run)
  --tokenizer DIR         SentencePiece tokenizer for random models (default: the test tokenizer)
  --cuda-graph            replay each step from a CUDA graph
  --peak-tflops X         the device's dense peak for the floor column (default 790 on cuda: a large
                          bf16 GEMM on an H100; 0.434 on cpu: fp32 on the 2-core CI machine)
  --json PATH             also write the results as JSON
)";

struct Options {
  std::string model = "0.6B", backend = "cpu", dtype = "bf16", tokenizer, json;
  std::int64_t size = 1024, steps = 20, batch = 1, repeats = 3, text_layers = 26;
  double cfg = 4.5, peak_tflops = 0;
  bool graph = false;
};

[[noreturn]] void usage_error(const std::string& m) {
  std::fprintf(stderr, "bench_pipeline: %s\n%s", m.c_str(), kUsage);
  std::exit(2);
}

std::int64_t integer(const std::string& flag, const std::string& v, std::int64_t lo) {
  try {
    std::size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used == v.size() && x >= lo) return x;
  } catch (...) {
  }
  usage_error(flag + " expects an integer >= " + std::to_string(lo) + ", got '" + v + "'");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(f + " needs a value");
      return argv[++i];
    };
    if (f == "--model") o.model = value();
    else if (f == "--backend") o.backend = value();
    else if (f == "--dtype") o.dtype = value();
    else if (f == "--size") o.size = integer(f, value(), 32);
    else if (f == "--steps") o.steps = integer(f, value(), 1);
    else if (f == "--cfg") o.cfg = std::atof(value().c_str());
    else if (f == "--batch") o.batch = integer(f, value(), 1);
    else if (f == "--repeats") o.repeats = integer(f, value(), 1);
    else if (f == "--text-layers") o.text_layers = integer(f, value(), 1);
    else if (f == "--tokenizer") o.tokenizer = value();
    else if (f == "--cuda-graph") o.graph = true;
    else if (f == "--peak-tflops") o.peak_tflops = std::atof(value().c_str());
    else if (f == "--json") o.json = value();
    else if (f == "-h" || f == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else usage_error("unknown flag '" + f + "'");
  }
  if (o.size % 32) usage_error("--size must be a multiple of 32");
  if (o.backend != "cpu" && o.backend != "cuda") usage_error("--backend must be cpu or cuda");
  if (o.dtype != "f32" && o.dtype != "bf16" && o.dtype != "f16") usage_error("--dtype must be f32, bf16 or f16");
  if (o.peak_tflops <= 0) o.peak_tflops = o.backend == "cuda" ? 790.0 : 0.434;
  if (o.tokenizer.empty()) {
    o.tokenizer = "tests/data/text/tokenizer";  // bench/gpu.sh runs from the repository root
    if (!fs::is_directory(o.tokenizer)) o.tokenizer = SANA_BENCH_TOKENIZER;
  }
  return o;
}

/// Peak resident memory of the process (VmHWM), and resetting it (Linux).
double host_peak_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atof(line.c_str() + 6) * 1024.0;
  return 0;
}
void reset_host_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

template <class B>
void reset_peak() {
#ifdef SANA_WITH_CUDA
  if constexpr (std::is_same_v<B, cuda_backend>) return cuda::reset_peak_memory();
#endif
  reset_host_peak();
}
template <class B>
double peak_bytes() {
#ifdef SANA_WITH_CUDA
  if constexpr (std::is_same_v<B, cuda_backend>) return static_cast<double>(cuda::memory_stats().peak);
#endif
  return host_peak_bytes();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class B, class T, class TText, class TVae>
pipeline::SanaPipeline<B, T, TText, TVae> build(context_t<B>& ctx, const Options& o) {
  if (o.model != "0.6B" && o.model != "1.6B") return pipeline::SanaPipeline<B, T, TText, TVae>::load(ctx, o.model);
  auto dit_cfg = bench::sana_config(o.model == "1.6B");
  auto transformer = std::make_unique<dit::SanaTransformer<B, T>>(dit_cfg);
  bench::randomize<B, T>(ctx, [&](auto&& f) { transformer->visit_parameters(f); }, 1);
  auto vae = std::make_unique<dcae::AutoencoderDC<B, TVae>>(dcae::Config::sana_f32c32(), dcae::Parts{false, true});
  bench::randomize<B, TVae>(ctx, [&](auto&& f) { vae->visit_parameters(f); }, 1000);
  auto gemma_cfg = text::Gemma2Config::gemma2_2b();
  gemma_cfg.num_hidden_layers = o.text_layers;
  gemma_cfg.fill_default_layer_types();
  text::Gemma2Encoder<B, TText> gemma(gemma_cfg);
  bench::randomize<B, TText>(ctx, [&](auto&& f) { gemma.visit_parameters(f); }, 2000);
  auto encoder = std::make_unique<text::PromptEncoder<B, TText>>(text::GemmaTokenizer::load(o.tokenizer), std::move(gemma));
  return pipeline::SanaPipeline<B, T, TText, TVae>::from_parts(pipeline::SchedulerSettings{}, std::move(transformer),
                                                               std::move(vae), std::move(encoder));
}

template <class B, class T, class TText = T, class TVae = T>
int run(const Options& o) {
  context_t<B> ctx;
  const auto t_load = std::chrono::steady_clock::now();
  auto pipe = build<B, T, TText, TVae>(ctx, o);
  backend_traits<B>::synchronize(ctx);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
  const double weights_bytes = peak_bytes<B>();

  pipeline::GenerateRequest rq;
  rq.prompts = {"a photo of a cat sitting on a red chair, highly detailed"};
  rq.images_per_prompt = static_cast<int>(o.batch);
  rq.height = rq.width = o.size;
  rq.resolution_binning = false;
  rq.steps = static_cast<int>(o.steps);
  rq.guidance_scale = o.cfg;
  rq.record_steps = o.graph;
  rq.seed = 1;

  const auto first = pipe.generate(ctx, rq);  // the first image: no separate warm-up or compile step exists
  const double first_s = first.seconds.text + first.seconds.denoise + first.seconds.decode;
  const double load_peak = peak_bytes<B>();  // the true peak: loading (init) and the first image
  reset_peak<B>();
  std::vector<double> text, denoise, decode, total;
  bool finite = true;
  for (std::int64_t r = 0; r < o.repeats; ++r) {
    const auto res = pipe.generate(ctx, rq);
    text.push_back(res.seconds.text);
    denoise.push_back(res.seconds.denoise);
    decode.push_back(res.seconds.decode);
    total.push_back(res.seconds.text + res.seconds.denoise + res.seconds.decode);
    for (float v : res.images) finite = finite && std::isfinite(v);
  }
  const double peak = peak_bytes<B>();

  const auto& tc = pipe.transformer().config();
  const std::int64_t f = pipe.vae_scale(), tokens = (o.size / f) * (o.size / f);
  const double branches = o.cfg > 1 ? 2 : 1;
  const double denoise_flop = 2.0 * bench::dit_forward_macs(tc, double(tokens), 300.0) * branches * double(o.batch) *
                              double(o.steps);
  const double floor_s = denoise_flop / (o.peak_tflops * 1e12);
  const double t_med = median(total), d_med = median(denoise);
  std::printf("bench_pipeline: model %s, %s %s, %lldx%lld, %lld steps, cfg %.1f, batch %lld%s\n", o.model.c_str(),
              o.backend.c_str(), o.dtype.c_str(), static_cast<long long>(o.size), static_cast<long long>(o.size),
              static_cast<long long>(o.steps), o.cfg, static_cast<long long>(o.batch), o.graph ? ", CUDA graph" : "");
  std::printf("  load (random init or files)  %8.3f s\n", load_s);
  std::printf("  first image                  %8.3f s\n", first_s);
  std::printf("  text encoding                %8.3f s (median of %lld)\n", median(text), static_cast<long long>(o.repeats));
  std::printf("  denoising                    %8.3f s  %.1f TFLOP -> %.1f TFLOP/s; floor %.3f s at %.3g TFLOP/s\n",
              d_med, denoise_flop * 1e-12, denoise_flop * 1e-12 / d_med, floor_s, o.peak_tflops);
  std::printf("  decoding                     %8.3f s\n", median(decode));
  std::printf("  total                        %8.3f s  (%.2f images/s)\n", t_med, double(o.batch) / t_med);
  std::printf("  peak memory                  %8.2f GiB (%s, load and first image included; weights and buffers after "
              "load %.2f GiB)\n",
              load_peak / 1073741824.0, o.backend == "cuda" ? "device, all backend allocations" : "process RSS",
              weights_bytes / 1073741824.0);
  std::printf("  steady-state peak            %8.2f GiB (the timed images)\n", peak / 1073741824.0);
  std::printf("  output finite                %s\n", finite ? "yes" : "NO");
  if (!o.json.empty()) {
    nlohmann::json j = {{"model", o.model},   {"backend", o.backend},        {"dtype", o.dtype},
                        {"size", o.size},     {"steps", o.steps},            {"cfg", o.cfg},
                        {"batch", o.batch},   {"cuda_graph", o.graph},       {"load_s", load_s},
                        {"first_s", first_s}, {"text_s", median(text)},      {"denoise_s", d_med},
                        {"decode_s", median(decode)}, {"total_s", t_med},    {"images_per_s", double(o.batch) / t_med},
                        {"peak_gib", load_peak / 1073741824.0}, {"steady_peak_gib", peak / 1073741824.0}, {"denoise_tflop", denoise_flop * 1e-12},
                        {"denoise_floor_s", floor_s}, {"finite", finite}};
    std::ofstream(o.json) << j.dump(1) << "\n";
  }
  return finite ? 0 : 1;
}

template <class B>
int run_dtype(const Options& o) {
  if (o.dtype == "f32") return run<B, float>(o);
  if (o.dtype == "f16") return run<B, f16, bf16, bf16>(o);
  return run<B, bf16>(o);
}

} // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    if (o.backend == "cuda") {
#ifdef SANA_WITH_CUDA
      return run_dtype<cuda_backend>(o);
#else
      usage_error("this build has no CUDA backend");
#endif
    }
#ifdef SANA_WITH_ONEDNN
    return run_dtype<onednn_backend>(o);
#else
    return run_dtype<reference_backend>(o);
#endif
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_pipeline: %s\n", e.what());
    return 1;
  }
}
