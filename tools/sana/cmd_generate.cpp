// `sana generate`: prompt(s) in, PNG(s) out, through pipeline::SanaPipeline.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "commands.hpp"
#include "flags.hpp"
#include "sana/io/png.hpp"
#include "sana/io/safetensors.hpp"
#include "sana/pipeline/prompt_file.hpp"
#include "sana/pipeline/sana_pipeline.hpp"
#ifdef SANA_WITH_ONEDNN
#include "sana/backends/onednn/onednn.hpp"
#endif
#ifdef SANA_WITH_CUDA
#include "sana/backends/cuda/cuda.hpp"
#endif

namespace sana_cli {
namespace {
namespace fs = std::filesystem;

constexpr const char* kHelp = R"(usage: sana generate -p PROMPT [flags]

  -p, --prompt TEXT          the prompt (repeatable: one batch of several prompts)
  -n, --negative-prompt TEXT negative prompt for classifier-free guidance (default "")
      --txt-file PATH        one prompt per line (NVlabs inference script format)
      --json-file PATH       a JSON list of {"prompt": ..., "seed": ..., ...} objects
      --model DIR            diffusers Sana folder (default $SANA_MODEL, else the embedded toy model: the
                             installed share/sana/models/sana-toy, or the source tree's models/sana-toy)
      --steps N              sampler steps (default 20; 2 for Sana-Sprint models)
      --cfg-scale W          classifier-free guidance scale (default 4.5; <= 1 turns CFG off);
                             for Sana-Sprint models the guidance the model embeds
      --lora FILE[:SCALE]    merge a LoRA into the transformer at SCALE (default 1; repeatable: several
                             LoRAs add up); diffusers/PEFT or kohya-ss safetensors (sana info --lora FILE)
      --pag-scale S          perturbed-attention guidance scale (default 0: off)
      --pag-blocks I,J       transformer blocks PAG perturbs (default: the middle block)
      --pag-variant V        diffusers (default: SanaPAGPipeline, no qk-norm in PAG blocks and no
                             timestep_scale) | nvlabs (both kept); differs only for qk-norm models (Sana 1.5)
      --sampler NAME         flow-dpm | flow-euler | flow-heun | flow-unipc | scm (default:
                             scheduler/scheduler_config.json; flow-heun evaluates the model twice per
                             step; scm is Sana-Sprint's and the only one its models take)
      --shift S              flow shift (default: the scheduler config's)
  -W, --width PX / -H, --height PX   image size, multiples of 32 (default: the model's native size)
      --seed N               seed (default 0); image k of a run uses noise stream k
      --latents PATH         start from the fp32 tensor "latents" (N, C, h, w) in this .safetensors file
                             instead of seeded noise (N = --batch: the same for every prompt, or N = all
                             images of the run); for Sana-Sprint also "step_noise" (steps, N, C, h, w)
      --batch N              images per prompt (default 1)
  -o, --output PATH          output PNG (default sana.png; several images get _0, _1, ... suffixes)
      --backend cpu|cuda     (default cpu; cuda needs a build with the CUDA backend and a GPU)
      --cuda-graph           record one denoising step as a CUDA graph and replay it (same images)
      --dtype f32|bf16|f16   weights and activations (default f32); f16: the transformer in fp16 (with
                             diffusers' ±65504 clip), text encoder and VAE in bf16 — for the fp16 checkpoints
      --vae-tiling           decode in 512-px tiles (large images)
      --no-binning           keep the requested size instead of the closest aspect-ratio bin
  -h, --help                 this text
Exit codes: 0 ok, 1 runtime error, 2 usage error.
)";

struct Args {
  std::vector<std::string> prompts;
  std::string negative, txt_file, json_file, model, sampler, latents, output = "sana.png", backend = "cpu",
      dtype = "f32";
  int steps = 0, batch = 1;  // steps 0: the model's default
  double cfg = 4.5, pag = 0.0, shift = 0.0;
  std::vector<std::int64_t> pag_blocks;
  std::vector<std::pair<std::string, double>> loras;  // --lora FILE[:SCALE]
  sana::dit::PagVariant pag_variant = sana::dit::PagVariant::diffusers;
  std::int64_t width = 0, height = 0;
  std::uint64_t seed = 0;
  bool tiling = false, binning = true, cuda_graph = false;
};

constexpr double kMaxScale = sana::pipeline::max_guidance_scale;
constexpr std::int64_t kMaxSide = sana::pipeline::max_image_side;

/// The model when --model is not given: $SANA_MODEL, else the toy model installed beside this binary
/// (share/sana/models/sana-toy under its prefix), else the source tree's.
std::string default_model() {
  if (const char* env = std::getenv("SANA_MODEL"); env && *env) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = (exe.parent_path() / SANA_TOY_FROM_BINARY).lexically_normal();
    if (fs::exists(installed / "model_index.json", ec)) return installed.string();
  }
  return SANA_DEFAULT_MODEL;
}

/// FILE[:SCALE]: the text after the last ':' is the scale when it is a number (paths may hold ':' too).
std::pair<std::string, double> parse_lora_flag(const std::string& v) {
  const std::size_t colon = v.rfind(':');
  if (colon != std::string::npos && colon + 1 < v.size()) {
    const std::string tail = v.substr(colon + 1);
    const bool numeric = tail.find_first_not_of("+-.0123456789eE") == std::string::npos;
    if (numeric) return {v.substr(0, colon), parse_number_in<double>("--lora scale", tail, -kMaxScale, kMaxScale)};
  }
  if (v.empty()) throw UsageError{"--lora needs a file: --lora FILE[:SCALE]"};
  return {v, 1.0};
}

Args parse(std::span<const std::string_view> args) {
  Args a;
  for (FlagCursor flags(args); !flags.done();) {
    const std::string_view f = flags.next();
    auto value = [&] { return flags.value(); };
    if (f == "-p" || f == "--prompt") {
      a.prompts.push_back(value());
      if (a.prompts.back().size() > sana::pipeline::max_prompt_bytes)
        throw UsageError{"-p/--prompt is " + std::to_string(a.prompts.back().size()) + " bytes, above the limit of " +
                         std::to_string(sana::pipeline::max_prompt_bytes)};
    }
    else if (f == "-n" || f == "--negative-prompt") a.negative = value();
    else if (f == "--txt-file") a.txt_file = value();
    else if (f == "--json-file") a.json_file = value();
    else if (f == "--model") a.model = value();
    else if (f == "--steps") {
      a.steps = parse_number_in<int>(f, value(), 1, sana::pipeline::max_steps);
    }
    else if (f == "--cfg-scale") a.cfg = parse_number_in<double>(f, value(), -kMaxScale, kMaxScale);
    else if (f == "--lora") a.loras.push_back(parse_lora_flag(value()));
    else if (f == "--pag-scale") a.pag = parse_number_in<double>(f, value(), 0.0, kMaxScale);
    else if (f == "--pag-blocks") {
      const std::string v = value();
      std::size_t pos = 0;
      while (pos <= v.size()) {
        const std::size_t comma = std::min(v.find(',', pos), v.size());
        a.pag_blocks.push_back(parse_number<std::int64_t>(f, v.substr(pos, comma - pos)));
        pos = comma + 1;
      }
    } else if (f == "--pag-variant") {
      const std::string v = value();
      if (v != "diffusers" && v != "nvlabs") throw UsageError{"--pag-variant must be diffusers or nvlabs, got '" + v + "'"};
      a.pag_variant = v == "nvlabs" ? sana::dit::PagVariant::nvlabs : sana::dit::PagVariant::diffusers;
    } else if (f == "--sampler") a.sampler = value();
    else if (f == "--shift") {
      a.shift = parse_number<double>(f, value());
      if (!(a.shift > 0)) throw UsageError{"--shift must be > 0 (leave it out for the scheduler config's)"};
    }
    else if (f == "-W" || f == "--width") a.width = parse_number_in<std::int64_t>(f, value(), 32, kMaxSide);
    else if (f == "-H" || f == "--height") a.height = parse_number_in<std::int64_t>(f, value(), 32, kMaxSide);
    else if (f == "--seed") a.seed = parse_number<std::uint64_t>(f, value());
    else if (f == "--batch") a.batch = parse_number_in<int>(f, value(), 1, sana::pipeline::max_images_per_request);
    else if (f == "--latents") a.latents = value();
    else if (f == "-o" || f == "--output") a.output = value();
    else if (f == "--backend") a.backend = value();
    else if (f == "--dtype") a.dtype = value();
    else if (f == "--vae-tiling") a.tiling = true;
    else if (f == "--cuda-graph") a.cuda_graph = true;
    else if (f == "--no-binning") a.binning = false;
    else throw UsageError{"unknown flag '" + std::string(f) + "' (try sana generate --help)"};
  }
  if (a.prompts.empty() && a.txt_file.empty() && a.json_file.empty())
    throw UsageError{"no prompt: give -p/--prompt, --txt-file or --json-file"};
  if (a.width % 32 || a.height % 32)
    throw UsageError{"-W/-H must be positive multiples of 32, got " + std::to_string(a.width) + "x" +
                     std::to_string(a.height)};
  if (!a.sampler.empty() && a.sampler != "flow-dpm" && a.sampler != "flow-euler" && a.sampler != "flow-heun" &&
      a.sampler != "flow-unipc" && a.sampler != "scm")
    throw UsageError{"unknown sampler '" + a.sampler + "' (flow-dpm, flow-euler, flow-heun, flow-unipc, scm)"};
  if (a.backend != "cpu" && a.backend != "cuda") throw UsageError{"--backend must be cpu or cuda, got '" + a.backend + "'"};
  if (a.dtype != "f32" && a.dtype != "bf16" && a.dtype != "f16")
    throw UsageError{"--dtype must be f32, bf16 or f16, got '" + a.dtype + "'"};
  if (a.output.size() < 4 || a.output.substr(a.output.size() - 4) != ".png")
    throw UsageError{"-o/--output must name a .png file, got '" + a.output + "'"};
  if (a.model.empty()) a.model = default_model();
  return a;
}

/// Every image's output path, decided before any work: -o's name with _k suffixes, or the entry's "name" (with
/// _j suffixes for --batch > 1) inside -o's directory. Two images with one path, or a file name longer than the
/// file system takes, are errors now rather than an overwrite or a failure after the computation.
std::vector<std::string> output_paths(const Args& a, const std::vector<sana::pipeline::PromptJob>& jobs,
                                      const fs::path& out_dir) {
  const std::size_t total = jobs.size() * static_cast<std::size_t>(a.batch);
  std::vector<std::string> paths;
  std::map<std::string, std::size_t> seen;
  for (std::size_t ji = 0; ji < jobs.size(); ++ji)
    for (int j = 0; j < a.batch; ++j) {
      const std::size_t k = paths.size();
      std::string p;
      if (jobs[ji].name)
        p = (out_dir / (*jobs[ji].name + (a.batch > 1 ? "_" + std::to_string(j) : std::string()) + ".png")).string();
      else
        p = total == 1 ? a.output : a.output.substr(0, a.output.size() - 4) + "_" + std::to_string(k) + ".png";
      const std::string file = fs::path(p).filename().string();
      sana::check(file.size() + 8 <= 255, p, "the file name is ", file.size(),
                  " bytes; with its temporary-file prefix and suffix it must stay within 247");
      const auto [it, fresh] = seen.emplace(p, k);
      sana::check(fresh, p, "images ", it->second, " and ", k, " of this run would both be written here");
      paths.push_back(std::move(p));
    }
  return paths;
}

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

/// The tensors of --latents, checked against the run: (N, C, h, w) with N the batch or every image.
struct StartingNoise {
  std::vector<float> latents, step_noise;  // flat, PyTorch order
  std::int64_t images = 0, steps = 0;
  std::int64_t channels = 0, height = 0, width = 0;  // of "latents"
  std::string path;
};

/// Every dimension of --latents against the size a job generates at (not only the element count).
void check_latents_fit(const StartingNoise& s, const sana::pipeline::GeneratePlan& p, std::size_t job) {
  sana::check(s.channels == p.latent_channels && s.height == p.latent_height && s.width == p.latent_width, s.path,
              "\"latents\" are (", s.images, ", ", s.channels, ", ", s.height, ", ", s.width, ") but prompt ", job,
              " generates ", p.gen_width, "x", p.gen_height, " px, i.e. latents of (N, ", p.latent_channels, ", ",
              p.latent_height, ", ", p.latent_width, ")");
  sana::check(s.step_noise.empty() || s.steps == p.steps, s.path, "\"step_noise\" holds ", s.steps,
              " steps, the run takes ", p.steps);
}

StartingNoise read_latents(const std::string& path, std::int64_t batch, std::int64_t total) {
  using namespace sana;
  const auto f = io::SafetensorsFile::open(path);
  check(f.contains("latents"), path, "has no tensor \"latents\" (expected fp32 (N, C, h, w))");
  auto l = f.load<float, 4>("latents");
  StartingNoise s;
  s.images = l.size(0);
  check(s.images == batch || s.images == total, path, "\"latents\" holds ", s.images, " images; the run makes ",
        batch, " per prompt and ", total, " in all");
  s.channels = l.size(1);
  s.height = l.size(2);
  s.width = l.size(3);
  s.path = path;
  const auto finite = [](const float* d, std::int64_t n) { return std::all_of(d, d + n, [](float v) { return std::isfinite(v); }); };
  check(finite(l.data(), l.numel()), path, "\"latents\" hold NaN or Inf");
  s.latents.assign(l.data(), l.data() + l.numel());
  if (f.contains("step_noise")) {
    auto n = f.load<float, 5>("step_noise");
    check(n.size(1) == l.size(0) && n.size(2) == l.size(1) && n.size(3) == l.size(2) && n.size(4) == l.size(3), path,
          "\"step_noise\" must be (steps, ", l.size(0), ", ", l.size(1), ", ", l.size(2), ", ", l.size(3), ")");
    s.steps = n.size(0);
    check(finite(n.data(), n.numel()), path, "\"step_noise\" holds NaN or Inf");
    s.step_noise.assign(n.data(), n.data() + n.numel());
  }
  return s;
}

/// Images [first, first + count) of a run-wide buffer holding `images` images (the whole buffer when it
/// holds one batch, which every prompt shares).
std::span<const float> images_of(const std::vector<float>& v, std::int64_t images, std::int64_t first,
                                 std::int64_t count) {
  if (v.empty() || images == count) return v;
  const std::size_t per = v.size() / static_cast<std::size_t>(images);
  return std::span<const float>(v).subspan(static_cast<std::size_t>(first) * per, static_cast<std::size_t>(count) * per);
}

/// The request for one job: the entry's fields over the command line's. Noise: image k of the run draws stream k
/// of --seed; an entry with its own "seed" starts its images at stream 0 of that seed (so it reproduces a
/// one-prompt run with that --seed).
template <class Pipe>
sana::pipeline::GenerateRequest job_request(const Args& a, const sana::pipeline::PromptJob& j, std::size_t first_image,
                                            Pipe& pipe) {
  sana::pipeline::GenerateRequest rq;
  rq.prompts = {j.prompt};
  rq.negative_prompt = j.negative_prompt.value_or(a.negative);
  rq.images_per_prompt = a.batch;
  rq.width = j.width.value_or(a.width);
  rq.height = j.height.value_or(a.height);
  rq.steps = static_cast<int>(j.steps.value_or(a.steps));  // 0: the pipeline picks the model's default
  rq.guidance_scale = j.cfg_scale.value_or(a.cfg);
  rq.pag_scale = a.pag;
  rq.pag_blocks = a.pag_blocks;
  rq.pag_variant = a.pag_variant;
  if (a.pag > 0 && rq.pag_blocks.empty()) rq.pag_blocks = {pipe.transformer().config().num_layers / 2};
  rq.sampler = a.sampler;
  rq.shift = a.shift;
  rq.seed = j.seed.value_or(a.seed);
  rq.first_image = j.seed ? 0 : first_image;
  rq.vae_tiling = a.tiling;
  rq.record_steps = a.cuda_graph;
  rq.resolution_binning = a.binning;
  return rq;
}

/// This job's share of --latents / step_noise (the whole tensors when they hold one batch, shared by every job).
void attach_noise(sana::pipeline::GenerateRequest& rq, const StartingNoise& start, std::int64_t first,
                  std::int64_t batch, std::vector<float>& job_noise) {
  if (start.latents.empty()) return;
  rq.initial_latents = images_of(start.latents, start.images, first, batch);
  if (start.step_noise.empty()) return;
  if (start.images == batch) {
    rq.step_noise = start.step_noise;
    return;
  }
  // Per-step noise is laid out (steps, N, ...): gather this job's images step by step.
  const std::size_t per = start.step_noise.size() / static_cast<std::size_t>(start.steps * start.images);
  job_noise.clear();
  for (std::int64_t i = 0; i < start.steps; ++i) {
    const auto at = start.step_noise.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(i * start.images + first) * per);
    job_noise.insert(job_noise.end(), at, at + static_cast<std::ptrdiff_t>(per * static_cast<std::size_t>(batch)));
  }
  rq.step_noise = job_noise;
}

/// "file:scale,file:scale" ("-" without LoRAs), for the PNG's text chunk.
std::string lora_text(const Args& a) {
  std::string s;
  for (const auto& [file, scale] : a.loras) s += (s.empty() ? "" : ",") + file + ":" + fmt(scale);
  return s.empty() ? "-" : s;
}

std::vector<std::pair<std::string, std::string>> png_text(const Args& a, const sana::pipeline::PromptJob& j,
                                                          const sana::pipeline::GenerateRequest& rq,
                                                          const sana::pipeline::GenerateResult& r, std::int64_t k,
                                                          std::string_view backend) {
  return {{"prompt", j.prompt},
          {"negative_prompt", rq.negative_prompt},
          {"seed", std::to_string(rq.seed)},
          {"image_index", std::to_string(rq.first_image + static_cast<std::uint64_t>(k))},
          {"steps", std::to_string(r.steps_run)},
          {"cfg_scale", fmt(rq.guidance_scale)},
          {"pag_scale", fmt(rq.pag_scale)},
          {"sampler", r.sampler},
          {"shift", r.sampler == "scm" ? std::string("-") : fmt(r.shift)},
          {"initial_latents", a.latents.empty() ? std::string("seeded") : a.latents},
          {"size", std::to_string(r.width) + "x" + std::to_string(r.height)},
          {"model", a.model},
          {"loras", lora_text(a)},
          {"backend", std::string(backend)},
          {"dtype", a.dtype},
          {"Software", "sana-cpp"}};
}

std::vector<sana::pipeline::PromptJob> read_jobs(const Args& a) {
  std::vector<sana::pipeline::PromptJob> jobs;
  for (const auto& p : a.prompts) jobs.push_back(sana::pipeline::PromptJob{.prompt = p});
  if (!a.txt_file.empty())
    for (auto& j : sana::pipeline::read_prompt_lines(a.txt_file)) jobs.push_back(std::move(j));
  if (!a.json_file.empty())
    for (auto& j : sana::pipeline::read_prompt_json(a.json_file)) jobs.push_back(std::move(j));
  sana::check(!jobs.empty(), "generate", "the prompt file holds no prompts");
  return jobs;
}

template <class B, class T, class TText = T, class TVae = T>
int run(const Args& a) {
  using namespace sana;
  const std::vector<pipeline::PromptJob> jobs = read_jobs(a);
  // Every output must be writable, and every request valid, before any work starts.
  const fs::path out_dir = fs::path(a.output).has_parent_path() ? fs::path(a.output).parent_path() : fs::path(".");
  check(fs::is_directory(out_dir), a.output, "cannot write: directory '", out_dir.string(), "' does not exist");
  check(access(out_dir.c_str(), W_OK) == 0, a.output, "cannot write: no permission in '", out_dir.string(), "'");
  const std::vector<std::string> paths = output_paths(a, jobs, out_dir);
  io::require_directory(a.model, "--model", " (give --model DIR or set SANA_MODEL)");
  StartingNoise start;
  if (!a.latents.empty()) start = read_latents(a.latents, a.batch, static_cast<std::int64_t>(paths.size()));

  std::vector<dit::LoraAdapter> loras;  // read (and checked) before the model loads
  for (const auto& [file, scale] : a.loras)
    loras.push_back({std::make_shared<const dit::LoraFile>(dit::read_lora_file(file)), static_cast<float>(scale)});

  context_t<B> ctx;
  auto pipe = pipeline::SanaPipeline<B, T, TText, TVae>::load(ctx, a.model);
  pipe.set_loras(ctx, loras);
  std::vector<pipeline::GenerateRequest> requests;
  for (std::size_t ji = 0; ji < jobs.size(); ++ji) {
    requests.push_back(job_request(a, jobs[ji], ji * static_cast<std::size_t>(a.batch), pipe));
    try {
      const auto plan = pipe.plan(requests.back());
      if (!start.latents.empty()) check_latents_fit(start, plan, ji);
    } catch (const sana::error& e) {
      if (jobs[ji].source.empty()) throw;  // a -p prompt: the flags are the cause
      fail(jobs[ji].source, e.what());
    }
  }
  const bool tty = isatty(fileno(stderr));
  std::size_t written = 0;
  std::vector<float> job_noise;
  for (std::size_t ji = 0; ji < jobs.size(); ++ji) {
    auto& rq = requests[ji];
    attach_noise(rq, start, static_cast<std::int64_t>(written), a.batch, job_noise);
    const auto t0 = std::chrono::steady_clock::now();
    pipeline::GenerateCallbacks cb;
    if (tty)
      cb.on_step = [&](int i, int n) {
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const int width = 30, done = (i + 1) * width / n;
        std::fprintf(stderr, "\r[%zu/%zu] [%.*s%*s] %d/%d  %.1fs  ETA %.1fs ", ji + 1, jobs.size(), done,
                     "##############################", width - done, "", i + 1, n, el, el / (i + 1) * (n - i - 1));
        std::fflush(stderr);
        return true;
      };
    const auto r = pipe.generate(ctx, rq, cb);
    if (tty) std::fprintf(stderr, "\n");
    const std::size_t px = static_cast<std::size_t>(r.height * r.width * 3);
    for (std::int64_t k = 0; k < r.count; ++k, ++written) {
      io::write_png(paths[written], std::span<const std::uint8_t>(r.pixels).subspan(static_cast<std::size_t>(k) * px, px),
                    r.width, r.height, png_text(a, jobs[ji], rq, r, k, backend_traits<B>::name));
      std::printf("%s\n", paths[written].c_str());
    }
  }
  return 0;
}

template <class B>
int run_dtype(const Args& a) {
  if (a.dtype == "bf16") return run<B, sana::bf16>(a);
  if (a.dtype == "f16") return run<B, sana::f16, sana::bf16, sana::bf16>(a);
  return run<B, float>(a);
}

} // namespace

int cmd_generate(std::span<const std::string_view> args) {
  for (auto s : args)
    if (s == "-h" || s == "--help") {
      std::fputs(kHelp, stdout);
      std::printf("Default model here: %s\n", default_model().c_str());
      return 0;
    }
  try {
    const Args a = parse(args);
    if (a.backend == "cuda") {
#ifdef SANA_WITH_CUDA
      return run_dtype<sana::cuda_backend>(a);
#else
      throw UsageError{"--backend cuda: this sana was built without the CUDA backend"};
#endif
    }
#ifdef SANA_WITH_ONEDNN
    return run_dtype<sana::onednn_backend>(a);
#else
    return run_dtype<sana::reference_backend>(a);
#endif
  } catch (const UsageError& e) {
    std::fprintf(stderr, "sana generate: %s\n", e.message.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sana generate: %s\n", e.what());
    return 1;
  }
}

} // namespace sana_cli
