/// @file
/// `pipeline::SanaPipeline<B, T, TText, TVae>`: prompt in, image out, from a diffusers-format Sana folder
/// (model_index.json, transformer/, vae/, text_encoder/, tokenizer/, scheduler/), computing what
/// diffusers' `SanaPipeline.__call__` computes (sana-spec.md §4.5):
///   1. prompts → Gemma-2 embeddings (positive with CHI, negative once for the batch);
///   2. the DiT's text K/V projected once for the whole [uncond, cond, perturbed] batch;
///   3. latents fp32 between steps; per step the branches run as one model batch, guidance
///      (CFG, PAG, adaptive PAG) combines them, and the sampler (Flow-DPM-Solver or Flow-Euler)
///      updates the state — every latent-sized update through `ops::lincomb` on the backend;
///   4. latents / scaling_factor → DC-AE decoder (optionally tiled) → resize-and-crop back when
///      resolution binning moved the size → float image in [-1, 1] and uint8 HWC pixels.
/// A transformer that embeds guidance (Sana-Sprint) takes `SanaSprintPipeline`'s path instead:
/// one branch, the guidance scale fed to the model (g = guidance_scale · guidance_embeds_scale,
/// rounded to the model dtype as diffusers does), and the SCM sampler with fresh noise each step.
///
/// Noise: image k of a request (prompt p, copy j, k = first_image + p·images_per_prompt + j) starts from
/// `fill_normal(seed, k)` — Philox4x32-10, so an image depends only on (seed, k), never on batch
/// layout or thread count. `initial_latents` replaces it (for comparisons with diffusers). The SCM
/// sampler's noise at step i for image k is `fill_normal(seed, k + (i + 1)·2^32)`, or `step_noise`.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sana/backend/step_graph.hpp"
#include "sana/dcae/autoencoder.hpp"
#include "sana/dcae/tiling.hpp"
#include "sana/dit/loader.hpp"
#include "sana/dit/lora.hpp"
#include "sana/io/json_file.hpp"
#include "sana/ops.hpp"
#include "sana/pipeline/image.hpp"
#include "sana/pipeline/limits.hpp"
#include "sana/pipeline/model_index.hpp"
#include "sana/pipeline/noise.hpp"
#include "sana/pipeline/resolution.hpp"
#include "sana/pipeline/scheduler_config.hpp"
#include "sana/sampling/flow_dpm_solver.hpp"
#include "sana/sampling/flow_euler.hpp"
#include "sana/sampling/flow_heun.hpp"
#include "sana/sampling/flow_unipc.hpp"
#include "sana/sampling/guidance.hpp"
#include "sana/sampling/sample.hpp"
#include "sana/sampling/sampler.hpp"
#include "sana/sampling/scm.hpp"
#include "sana/text/prompt_encoder.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

/// One generation. Zero / empty fields take the model's defaults.
struct GenerateRequest {
  std::vector<std::string> prompts;
  std::string negative_prompt;
  int images_per_prompt = 1;
  std::int64_t height = 0, width = 0;  ///< 0: native resolution (sample_size × VAE compression)
  int steps = 0;                         ///< 0: the model's default (20; 2 for Sprint)
  double guidance_scale = 4.5;           ///< CFG scale; Sprint: the embedded guidance
  double pag_scale = 0.0, pag_adaptive_scale = 0.0;
  std::vector<std::int64_t> pag_blocks;  ///< transformer blocks for PAG (required when pag_scale > 0)
  /// diffusers' SanaPAGPipeline (default: no qk-norm in PAG blocks, no timestep_scale while PAG is on) or NVlabs'
  /// (both as without PAG). The same image unless the model has qk_norm or timestep_scale != 1 (Sana 1.5).
  dit::PagVariant pag_variant = dit::PagVariant::diffusers;
  std::string sampler;                   ///< "", "flow-dpm", "flow-euler", "flow-heun", "flow-unipc" or "scm" (Sprint)
  double shift = 0.0;                    ///< 0: the scheduler config's
  std::uint64_t seed = 0;
  /// Noise stream of the first image: image k draws stream first_image + k, so the images of several
  /// requests (a CLI run's prompts) continue one sequence instead of repeating stream 0.
  std::uint64_t first_image = 0;
  std::span<const float> initial_latents;  ///< (N, latent_channels, h, w) host floats, or empty
  std::span<const float> step_noise;       ///< SCM: (steps, N, latent_channels, h, w) host floats, or empty
  /// Record one step's model evaluation and replay it (CUDA graphs on the CUDA backend: one launch per step
  /// instead of hundreds). Same results; no effect on host backends. StepGraph::note() explains a fallback.
  bool record_steps = false;
  bool resolution_binning = true;
  bool vae_tiling = false;
  std::int64_t max_sequence_length = 300;
};

/// Step callbacks, each called after step i of n has updated the latents.
struct GenerateCallbacks {
  /// (i, n) → false stops early: the latents as they are then are decoded (progress bars, cancellation).
  std::function<bool(int, int)> on_step;
  /// (i, latents): a host copy of the fp32 latents (N, C, h, w) after step i, for previews (decode them with
  /// `vae()`, or project them) and for inspection. Costs one device-to-host copy per step when set.
  std::function<void(int, TensorView<const float, 4>)> on_latents;
};

struct GenerateResult {
  std::int64_t count = 0, height = 0, width = 0;
  std::vector<float> images;         ///< (N, 3, H, W) in [-1, 1] as the decoder wrote them
  std::vector<std::uint8_t> pixels;  ///< (N, H, W, 3)
  int steps_run = 0;
  std::string sampler;  ///< the sampler that ran ("flow-dpm", "flow-euler", "scm")
  double shift = 0;     ///< its flow shift (0 for scm, which has none)
  /// Wall-clock seconds per stage, the backend synchronised at each boundary: prompt encoding (Gemma-2 and the
  /// transformer's text K/V), denoising (initial noise and every step), decoding (VAE, resize, pixels).
  struct StageSeconds {
    double text = 0, denoise = 0, decode = 0;
  } seconds;
};

/// The sizes a request works at, from `SanaPipeline::plan` (before any work).
struct GeneratePlan {
  std::int64_t images = 0;              ///< prompts × images per prompt
  std::int64_t height = 0, width = 0;   ///< the output size
  std::int64_t gen_height = 0, gen_width = 0;  ///< the size the model generates at (after binning)
  std::int64_t latent_channels = 0, latent_height = 0, latent_width = 0;
  int steps = 0;
  std::string sampler;
  bool sprint = false;
  bool step_noise = false;  ///< the sampler draws fresh noise every step (a (steps, N, C, h, w) table)
};

/// What the prompt stage hands the denoising stage: the transformer's text side for the whole model batch.
template <class B, class T>
struct PromptBatch {
  dit::TextConditioning<B, T> text;  ///< per-block K/V of the branches [uncond, cond, perturbed] × images
  sampling::Guidance guidance;       ///< the branches it holds and how their outputs combine
  std::int64_t images = 0;           ///< N
};

/// T is the transformer's dtype; the text encoder and the VAE may run in others (diffusers' advice for the
/// fp16 checkpoints: transformer fp16, Gemma-2 bf16, VAE bf16 or fp32). Latents stay fp32 between steps.
template <class B, class T, class TText = T, class TVae = T>
class SanaPipeline {
public:
  using Ctx = context_t<B>;
  using space = space_t<B>;
  using FView = TensorView<float, 4, space>;
  template <class U, std::size_t R> using View = TensorView<U, R, space>;
  template <class U, std::size_t R> using CView = TensorView<const U, R, space>;
  using CFView = TensorView<const float, 4, space>;

  /// Loads every component; errors name the folder piece that is missing or broken.
  static SanaPipeline load(Ctx& ctx, const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    io::require_directory(dir, "pipeline", " (the model folder)");
    check(fs::exists(dir / "model_index.json"), "pipeline", "'", dir.string(),
          "' is not a diffusers Sana folder: model_index.json is missing");
    const std::string index_scheduler = check_model_index(io::JsonConfig::load(dir / "model_index.json", "model_index.json"));
    for (const char* part : {"transformer", "vae", "text_encoder", "tokenizer", "scheduler"})
      check(fs::is_directory(dir / part), "pipeline", "component '", part, "' is missing from '", dir.string(), "'");
    check(fs::exists(dir / "scheduler" / "scheduler_config.json"), "pipeline",
          "scheduler/scheduler_config.json is missing from '", dir.string(), "'");
    const auto scheduler_config =
        load_scheduler_config(dir / "scheduler" / "scheduler_config.json", "scheduler/scheduler_config.json");
    check_scheduler_class(index_scheduler, scheduler_config);
    return from_parts(
        SchedulerSettings::from_json(scheduler_config),
        dit::load_transformer<B, T>(ctx, dir / "transformer"),
        std::make_unique<dcae::AutoencoderDC<B, TVae>>(
            dcae::AutoencoderDC<B, TVae>::from_folder(ctx, dir / "vae", dcae::Parts{false, true})),
        std::make_unique<text::PromptEncoder<B, TText>>(text::GemmaTokenizer::load(dir / "tokenizer"),
                                                        text::Gemma2Encoder<B, TText>::load(ctx, dir / "text_encoder")));
  }

  /// A pipeline from components already in memory (research code, benchmarks with random weights, patched
  /// weights); checks that they fit together.
  static SanaPipeline from_parts(SchedulerSettings scheduler, std::unique_ptr<dit::SanaTransformer<B, T>> transformer,
                                 std::unique_ptr<dcae::AutoencoderDC<B, TVae>> vae,
                                 std::unique_ptr<text::PromptEncoder<B, TText>> text) {
    check(transformer && vae && text, "pipeline", "a component is missing");
    check(vae->config.latent_channels == transformer->config().in_channels, "pipeline", "vae latent_channels ",
          vae->config.latent_channels, " differ from transformer in_channels ", transformer->config().in_channels);
    check(text->encoder().config().hidden_size == transformer->config().caption_channels, "pipeline",
          "text encoder hidden_size ", text->encoder().config().hidden_size, " differs from transformer caption_channels ",
          transformer->config().caption_channels);
    SanaPipeline p;
    p.scheduler_ = std::move(scheduler);
    p.transformer_ = std::move(transformer);
    p.vae_ = std::move(vae);
    p.text_ = std::move(text);
    return p;
  }

  /// Merges LoRA adapters into the transformer (diffusers' load_lora_weights + set_adapters + fuse_lora): every
  /// adapter's update summed in fp32, one cast, so nothing changes per step; replaces the adapters merged
  /// before, and an empty list restores the original weights exactly. Throws before changing any weight when an
  /// adapter does not fit the transformer (dit/lora.hpp).
  void set_loras(Ctx& ctx, std::span<const dit::LoraAdapter> adapters) { loras_.merge(*transformer_, ctx, adapters); }
  /// The adapters merged now.
  const std::vector<dit::LoraAdapter>& loras() const { return loras_.adapters(); }

  const SchedulerSettings& scheduler() const { return scheduler_; }
  dit::SanaTransformer<B, T>& transformer() { return *transformer_; }
  dcae::AutoencoderDC<B, TVae>& vae() { return *vae_; }
  text::PromptEncoder<B, TText>& text_encoder() { return *text_; }
  std::int64_t vae_scale() const { return vae_->config.spatial_compression(); }
  /// The resolution the transformer was trained at (sample_size × VAE compression).
  std::int64_t native_size() const { return transformer_->config().sample_size * vae_scale(); }

  /// The sizes, sampler and step count `generate(rq)` will use; checks the request against the model, the
  /// documented limits (limits.hpp) and the machine's memory (estimate_bytes) without doing any work.
  GeneratePlan plan(const GenerateRequest& rq) const {
    GeneratePlan p = plan_sizes(rq);
    // Sprint: guidance goes into the model, one branch; the sampler is SCM and only SCM.
    p.sampler = !rq.sampler.empty() ? rq.sampler : p.sprint ? std::string("scm") : scheduler_.sampler;
    check(p.sprint == (p.sampler == "scm"), "generate",
          p.sprint ? "this transformer embeds guidance (Sana-Sprint) and samples with scm only, not '" + p.sampler + "'"
                   : std::string("the scm sampler needs a Sana-Sprint transformer (guidance_embeds)"));
    p.steps = rq.steps > 0 ? rq.steps : p.sprint ? 2 : 20;
    p.step_noise = p.sprint;  // scm
    check_memory(rq, p);
    return p;
  }

  /// The plan of `generate(rq, sampler)`: as `plan(rq)`, with the sampler object instead of `rq.sampler`. A
  /// SchedulableSampler is scheduled for `rq.steps` (or the model's default); any other runs the steps it holds.
  template <sampling::Sampler S>
  GeneratePlan plan(const GenerateRequest& rq, const S& sampler) const {
    GeneratePlan p = plan_sizes(rq);
    check(rq.sampler.empty(), "generate", "the request names sampler '", rq.sampler, "' and a sampler object is given");
    check(rq.shift == 0, "generate", "shift ", rq.shift, " is a setting of the named samplers: set it in the sampler's config");
    p.sampler = sampler_name<S>();
    p.step_noise = sampler.needs_noise();
    if constexpr (std::is_same_v<S, sampling::ScmSolver>)
      check(p.sprint, "generate", "the scm sampler needs a Sana-Sprint transformer (guidance_embeds)");
    if constexpr (sampling::SchedulableSampler<S>) {
      p.steps = rq.steps > 0 ? rq.steps : p.sprint ? 2 : 20;
    } else {
      p.steps = sampler.num_steps();
      check(p.steps >= 1 && p.steps <= max_steps, "generate", "the sampler holds ", p.steps, " steps; [1, ", max_steps,
            "] are accepted (schedule it first)");
      check(rq.steps == 0 || rq.steps == p.steps, "generate", "the request asks for ", rq.steps,
            " steps, the sampler (which has no set_timesteps) holds ", p.steps);
    }
    check_memory(rq, p);
    return p;
  }
  /// Bytes of activations and buffers `generate(rq)` needs at its peak (weights not included), estimated from the
  /// plan: the denoising batch and its text K/V, the sampler's latent buffers, and the decoder's planned region
  /// (one tile's when tiled) plus the images.
  std::uint64_t estimate_bytes(const GenerateRequest& rq, const GeneratePlan& p) const {
    const auto& tc = transformer_->config();
    const double branches = (rq.guidance_scale > 1.0 && !p.sprint ? 2 : 1) + (rq.pag_scale > 0 ? 1 : 0);
    const double n = static_cast<double>(p.images), tokens = static_cast<double>(p.latent_height * p.latent_width);
    const double latent = n * static_cast<double>(p.latent_channels) * tokens * 4.0;
    const double width = static_cast<double>(tc.width()), mlp = width * 2.5 * 2.0;  // Mix-FFN's GLU hidden
    const double dit = branches * n * tokens * (4.0 * width + 2.0 * mlp) * sizeof(T) +
                       branches * n * static_cast<double>(rq.max_sequence_length) * width * 2.0 *
                           static_cast<double>(tc.num_layers) * sizeof(T);
    const double sampler = latent * 8.0 + (p.step_noise ? latent * p.steps : 0.0);
    const Shape<4> z{p.images, p.latent_channels, p.latent_height, p.latent_width};
    dcae::Tiling t;
    const bool tiled = rq.vae_tiling && dcae::decode_needs_tiling(vae_->config, t, p.latent_height, p.latent_width);
    const double decode = tiled ? static_cast<double>(vae_->decoder.plan_bytes(Shape<4>{p.images, p.latent_channels,
                                                                                           t.tile_h / vae_scale(),
                                                                                           t.tile_w / vae_scale()}))
                                : static_cast<double>(vae_->decoder.plan_bytes(z));
    const double images = n * 3.0 * static_cast<double>(p.gen_height * p.gen_width) * (4.0 * 3.0 + sizeof(TVae)) +
                          n * 3.0 * static_cast<double>(p.height * p.width) * 5.0;
    const std::int64_t text_len = text::token_budget(rq.max_sequence_length, text_->chi_tokens());
    const double text = text_->encoder().forward_bytes(static_cast<std::int64_t>(rq.prompts.size()), text_len);
    return static_cast<std::uint64_t>(std::max({text, dit + sampler, decode + images}) + latent * 4.0);
  }

  /// Text to image with the sampler the request names (`rq.sampler`, else the model's scheduler config).
  GenerateResult generate(Ctx& ctx, const GenerateRequest& rq, const GenerateCallbacks& cb = {}) {
    const GeneratePlan p = plan(rq);
    return with_sampler(p.sampler, rq.shift, [&](auto& s) { return run(ctx, rq, p, s, cb); });
  }

  /// Text to image with any sampler object, the library's or your own (diffusers' `pipe.scheduler = ...`):
  /// guidance, callbacks, previews, PAG and Sprint as with the named samplers. A SchedulableSampler is set to the
  /// request's step count; a sampler that needs noise gets image k's Philox stream k + (i+1)·2^32 at step i (or
  /// `rq.step_noise`), as SCM does.
  template <sampling::Sampler S>
  GenerateResult generate(Ctx& ctx, const GenerateRequest& rq, S& sampler, const GenerateCallbacks& cb = {}) {
    return run(ctx, rq, plan(rq, sampler), sampler, cb);
  }

  /// Calls `fn(sampler)` with the named built-in sampler ("flow-dpm", "flow-euler", "flow-heun", "flow-unipc",
  /// "scm") configured from the model's scheduler config; `shift` > 0 replaces its flow shift.
  template <class Fn>
  decltype(auto) with_sampler(const std::string& name, double shift, Fn&& fn) const {
    const double s = shift > 0 ? shift : scheduler_.shift;
    const int train = scheduler_.num_train_timesteps;
    if (name == "flow-dpm") {
      sampling::FlowDpmSolverConfig c;
      c.shift = s;
      c.order = scheduler_.order;
      c.num_train_timesteps = train;
      c.lower_order_final = scheduler_.lower_order_final;
      c.euler_at_final = scheduler_.euler_at_final;
      c.final_sigma = scheduler_.final_sigma_min ? sampling::FinalSigma::sigma_min : sampling::FinalSigma::zero;
      c.beta_start = scheduler_.beta_start;
      c.solver_type = scheduler_.heun ? sampling::SolverType::heun : sampling::SolverType::midpoint;
      sampling::FlowDpmSolver solver(c);
      return fn(solver);
    }
    if (name == "flow-euler") {
      sampling::FlowEuler solver({.shift = s, .num_train_timesteps = train});
      return fn(solver);
    }
    if (name == "flow-heun") {
      sampling::FlowHeun solver({.shift = s, .num_train_timesteps = train});
      return fn(solver);
    }
    if (name == "flow-unipc") {  // order and lower_order_final from the folder's scheduler (its solver_order)
      sampling::FlowUniPcConfig c;
      c.order = scheduler_.order;
      c.shift = s;
      c.variant = scheduler_.unipc_bh1 ? sampling::UniPcVariant::bh1 : sampling::UniPcVariant::bh2;
      // lower_order_final is UniPC's own setting only in a UniPC folder (a DPM folder's means DPM's rule)
      c.lower_order_final = scheduler_.sampler != "flow-unipc" || scheduler_.lower_order_final;
      c.disable_corrector = scheduler_.disable_corrector;
      c.num_train_timesteps = train;
      sampling::FlowUniPc solver(c);
      return fn(solver);
    }
    check(name == "scm", "generate", "unknown sampler '", name, "' (flow-dpm, flow-euler, flow-heun, flow-unipc, scm)");
    sampling::ScmSolver solver;  // Sprint's angles: 2 steps [1.5708, 1.3, 0], otherwise linspace(1.5708, 0, N+1)
    return fn(solver);
  }

  /// Stage 1: prompts → Gemma-2 embeddings → the transformer's per-block text K/V, for the denoising batch in
  /// branch order [uncond, cond, perturbed] (positive prompts repeated per image, the negative once per image).
  PromptBatch<B, T> encode_prompts(Ctx& ctx, const GenerateRequest& rq, const GeneratePlan& p) {
    const std::int64_t N = p.images;
    PromptBatch<B, T> out;
    out.guidance = {p.sprint ? 1.0 : rq.guidance_scale, rq.pag_scale, rq.pag_adaptive_scale};
    out.images = N;
    check(!out.guidance.do_pag() || !rq.pag_blocks.empty(), "generate", "PAG needs at least one transformer block");
    check(rq.max_sequence_length == text_->options().max_sequence_length, "generate", "max_sequence_length ",
          rq.max_sequence_length, " differs from the encoder's ", text_->options().max_sequence_length);
    Workspace<B> ws;
    std::vector<std::string> pos;
    for (const auto& prompt : rq.prompts)
      for (int j = 0; j < rq.images_per_prompt; ++j) pos.push_back(prompt);
    // Padded text positions are masked out of every cross-attention (their weight is exactly 0), so Gemma-2 stops
    // at the last real token and the transformer only sees the first M' positions some row needs (the text stage's
    // per-block K/V and each step's cross-attention shrink from 300 keys to M'); the image is unchanged.
    auto cond = text_->encode(ctx, ws, pos, text::PaddedTokens::zeroed);
    ws.reset();
    std::optional<text::PromptEmbeddings<B, TText>> uncond;
    if (out.guidance.do_cfg()) {
      uncond = text_->encode_negative(ctx, ws, rq.negative_prompt, N, text::PaddedTokens::zeroed);
      ws.reset();
    }
    std::vector<const text::PromptEmbeddings<B, TText>*> branches;
    if (uncond) branches.push_back(&*uncond);
    branches.push_back(&cond);
    if (out.guidance.do_pag()) branches.push_back(&cond);
    std::vector<float> mask;
    const Tensor<T, 3, B> text_batch = stack_branches(ctx, branches, N, mask);  // (nb·N, M', Cc)
    require_finite(ctx, TensorView<const T, 3, space>(text_batch.view()), "the prompt embeddings (text encoder)");
    out.text = transformer_->encode_text(ctx, ws, TensorView<const T, 3, space>(text_batch.view()), mask);
    return out;
  }

  /// Stage 2: the initial latents (N, C, h, w) in fp32: `rq.initial_latents`, or image k's `fill_normal(seed, k)`.
  Tensor<float, 4, B> prepare_latents(Ctx& ctx, const GenerateRequest& rq, const GeneratePlan& p) {
    const std::int64_t N = p.images, Cl = p.latent_channels, h = p.latent_height, w = p.latent_width;
    const std::int64_t latent_numel = N * Cl * h * w;
    Tensor<float, 4, B> x({N, Cl, h, w});  // (N, Cl, h, w)
    std::vector<float> host(static_cast<std::size_t>(latent_numel));
    if (!rq.initial_latents.empty()) {
      check(std::all_of(rq.initial_latents.begin(), rq.initial_latents.end(), [](float v) { return std::isfinite(v); }),
            "generate", "the initial latents hold NaN or Inf");
      check(static_cast<std::int64_t>(rq.initial_latents.size()) == latent_numel, "generate", "initial latents hold ",
            rq.initial_latents.size(), " values, (", N, ", ", Cl, ", ", h, ", ", w, ") needs ", latent_numel);
      std::copy(rq.initial_latents.begin(), rq.initial_latents.end(), host.begin());
    } else {
      const std::size_t per = static_cast<std::size_t>(Cl * h * w);
      for (std::int64_t k = 0; k < N; ++k)
        fill_normal(std::span<float>(host).subspan(static_cast<std::size_t>(k) * per, per), rq.seed,
                    rq.first_image + static_cast<std::uint64_t>(k));
    }
    backend_traits<B>::upload(ctx, x.data(), host.data(), host.size() * sizeof(float));
    return x;
  }

  /// Stage 3: runs `sampler` on the latents `x` in place, one model batch of the prompt branches per evaluation,
  /// guidance combining them; returns the number of steps run (fewer when `cb.on_step` stopped early).
  template <sampling::Sampler S>
  int denoise(Ctx& ctx, const GenerateRequest& rq, const GeneratePlan& p, const PromptBatch<B, T>& prompts,
              Tensor<float, 4, B>& x, S& sampler, const GenerateCallbacks& cb = {}) {
    const sampling::Guidance& guide = prompts.guidance;
    const std::int64_t N = p.images, Cl = p.latent_channels, h = p.latent_height, w = p.latent_width;
    const std::int64_t nb = guide.num_branches(), Cm = transformer_->config().width();
    check(prompts.images == N && prompts.text.batch == nb * N && x.shape() == Shape<4>{N, Cl, h, w}, "generate",
          "the prompt batch or the latents were made for another plan");
    if constexpr (sampling::SchedulableSampler<S>) sampler.set_timesteps(p.steps);
    check(sampler.num_steps() == p.steps, "generate", "the sampler holds ", sampler.num_steps(), " steps, the plan ",
          p.steps);
    transformer_->set_pag_blocks(guide.do_pag() ? std::span<const std::int64_t>(rq.pag_blocks)
                                                : std::span<const std::int64_t>(),
                                 rq.pag_variant);
    Workspace<B> ws;
    const TimeTables tt = time_tables(ctx, ws, rq, p, guide, sampler);
    Tensor<T, 4, B> model_in({nb * N, Cl, h, w});                   // (nb·N, Cl, h, w)
    Tensor<T, 4, B> model_out({nb * N, Cl, h, w});                  // (nb·N, Cl, h, w)
    Tensor<float, 4, B> branch_v({nb * N, Cl, h, w});               // (nb·N, Cl, h, w) fp32
    Tensor<T, 2, B> temb_now({nb * N, Cm});                         // (nb·N, Cm)
    Tensor<T, 3, B> t6_now({nb * N, 6, Cm});                        // (nb·N, 6, Cm)
    const Tensor<float, 5, B> noise = step_noise_table(ctx, rq, p, sampler.needs_noise());  // (steps, N, Cl, h, w)
    auto lincomb = backend_lincomb(ctx);
    int steps_run = 0;
    struct EarlyStop {};
    // The sampler calls the model at step i after step i-1's update: the callbacks for step i-1 run then (and for
    // the last step after the loop), so they see the updated latents and an early stop leaves them in x.
    std::vector<float> preview;
    auto after_step = [&](int i) {
      steps_run = i + 1;
      if (cb.on_latents) {
        preview.resize(static_cast<std::size_t>(x.numel()));
        backend_traits<B>::download(ctx, preview.data(), x.data(), preview.size() * sizeof(float));
        cb.on_latents(i, TensorView<const float, 4>(preview.data(), {N, Cl, h, w}));
      }
      if (cb.on_step && !cb.on_step(i, p.steps) && i + 1 < p.steps) throw EarlyStop{};
    };
    // Each evaluation copies its time-conditioning row into fixed buffers, so the model evaluation reads and writes
    // the same memory every time and uploads nothing: `graph` may record it once and replay it (CUDA graphs).
    StepGraph<B> graph;
    const float* graph_input = nullptr;
    // Attention processors and hooks are user code that may read back or branch on the host: not recorded.
    const bool record = rq.record_steps && !transformer_->has_extensions();
    auto velocity = [&](const sampling::StepRecord& r, const FView& xin, const FView& v) {
      if (r.index > 0 && r.stage == 0) after_step(r.index - 1);
      const std::int64_t e = tt.first_evaluation[static_cast<std::size_t>(r.index)] + r.stage;
      ops::copy(ctx, CView<T, 2>(tt.temb.data() + e * nb * N * Cm, {nb * N, Cm}), temb_now.view());
      ops::copy(ctx, CView<T, 3>(tt.t6.data() + e * nb * N * 6 * Cm, {nb * N, 6, Cm}), t6_now.view());
      if (xin.data() != graph_input) {  // a recording is only valid for the buffers it saw
        graph.reset();
        graph_input = xin.data();
      }
      ws.reset();  // outside the recording: after the first evaluation this folds the workspace into one block, once
      auto evaluate = [&] {
        for (std::int64_t b = 0; b < nb; ++b) ops::copy(ctx, CFView(xin), model_in.view().slice(0, b * N, N));
        transformer_->forward(ctx, ws, TensorView<const T, 4, space>(model_in.view()),
                              dit::TimeConditioning<B, T>{temb_now.view(), t6_now.view()}, prompts.text,
                              model_out.view(), guide.do_pag() ? N : 0);
        ops::copy(ctx, TensorView<const T, 4, space>(model_out.view()), branch_v.view());
      };
      if (record) graph.run(ctx, evaluate);
      else evaluate();
      std::array<FView, 3> br;
      for (std::int64_t b = 0; b < nb; ++b) br[static_cast<std::size_t>(b)] = branch_v.view().slice(0, b * N, N);  // (N, Cl, h, w)
      guide.combine(v, std::span<const FView>(br.data(), static_cast<std::size_t>(nb)), r.model_time, lincomb);
    };
    auto step_noise = [&](int i, const FView& out) {
      ops::copy(ctx, CFView(noise.data() + static_cast<std::int64_t>(i) * x.numel(), {N, Cl, h, w}), out);
    };
    std::vector<Tensor<float, 4, B>> store;
    std::vector<FView> bufs;
    for (int k = 0; k < sampling::workspace_buffers(sampler); ++k) store.emplace_back(Shape<4>{N, Cl, h, w});
    for (auto& s : store) bufs.push_back(s.view());
    try {
      sampling::sample(sampler, velocity, x.view(), lincomb, std::span<const FView>(bufs), step_noise);
      after_step(sampler.num_steps() - 1);
    } catch (const EarlyStop&) {
    }
    require_finite(ctx, TensorView<const float, 4, space>(x.view()), "the latents after denoising");
    return steps_run;
  }

  /// Stage 4: latents / scaling_factor → DC-AE decoder (tiled when asked and needed) → back to the requested size
  /// when binning moved it → images in [-1, 1] and uint8 pixels.
  GenerateResult decode(Ctx& ctx, const GenerateRequest& rq, const GeneratePlan& p, const Tensor<float, 4, B>& x) {
    const std::int64_t N = p.images, Cl = p.latent_channels, h = p.latent_height, w = p.latent_width;
    const std::int64_t gh = p.gen_height, gw = p.gen_width, f = vae_scale(), C = vae_->config.in_channels;
    check(x.shape() == Shape<4>{N, Cl, h, w}, "generate", "the latents were made for another plan");
    Tensor<TVae, 4, B> z({N, Cl, h, w});  // (N, Cl, h, w)
    {
      const float inv = static_cast<float>(1.0 / vae_->config.scaling_factor);
      std::array<CFView, 1> in{x.view()};
      Tensor<float, 4, B> zs({N, Cl, h, w});  // (N, Cl, h, w)
      ops::lincomb(ctx, std::span<const float>(&inv, 1), std::span<const CFView>(in), zs.view());
      ops::copy(ctx, CFView(zs.view()), z.view());
    }
    Workspace<B> ws;
    std::vector<float> img;  // (N, C, oh, ow)
    std::int64_t oh = gh, ow = gw;
    dcae::Tiling t;  // diffusers' 512 px tiles, stride 448 px; like diffusers, tile only when a side exceeds a tile
    if (rq.vae_tiling && dcae::decode_needs_tiling(vae_->config, t, h, w)) {
      oh = dcae::tiled_decode_extent(h, t.tile_h / f, t.stride_h / f, f, t.stride_h);
      ow = dcae::tiled_decode_extent(w, t.tile_w / f, t.stride_w / f, f, t.stride_w);
      Tensor<TVae, 4, reference_backend> out({N, C, oh, ow});  // (N, C, oh, ow) on the host: tiles are blended there
      dcae::tiled_decode(vae_->decoder, ctx, ws, TensorView<const TVae, 4, space>(z.view()), out.view(), t);
      img.resize(static_cast<std::size_t>(out.numel()));
      for (std::int64_t i = 0; i < out.numel(); ++i) img[static_cast<std::size_t>(i)] = to_float(out.data()[i]);
    } else {
      Tensor<TVae, 4, B> out({N, C, gh, gw});  // (N, C, gh, gw)
      vae_->decode(ctx, ws, TensorView<const TVae, 4, space>(z.view()), out.view());
      img = to_float_host(ctx, out);
    }
    check(std::all_of(img.begin(), img.end(), [](float v) { return std::isfinite(v); }), "generate",
          "the decoded images hold NaN or Inf (the VAE decoder's weights, or its dtype's range)");
    return finish_images(std::move(img), p, C, oh, ow);
  }

private:
  SanaPipeline() = default;

  /// plan()'s checks of the request and its sizes, whichever sampler runs.
  GeneratePlan plan_sizes(const GenerateRequest& rq) const {
    check(!rq.prompts.empty(), "generate", "no prompt given");
    for (std::size_t i = 0; i < rq.prompts.size(); ++i)
      check(rq.prompts[i].size() <= max_prompt_bytes, "generate", "prompt ", i, " is ", rq.prompts[i].size(),
            " bytes, above the limit of ", max_prompt_bytes);
    check(rq.negative_prompt.size() <= max_prompt_bytes, "generate", "the negative prompt is ",
          rq.negative_prompt.size(), " bytes, above the limit of ", max_prompt_bytes);
    check(rq.images_per_prompt >= 1, "generate", "images per prompt must be >= 1, got ", rq.images_per_prompt);
    check(static_cast<std::int64_t>(rq.prompts.size()) * rq.images_per_prompt <= max_images_per_request, "generate",
          rq.prompts.size(), " prompts x ", rq.images_per_prompt, " images is above the limit of ",
          max_images_per_request, " images per request");
    check(rq.steps >= 0 && rq.steps <= max_steps, "generate", "steps must be in [1, ", max_steps,
          "] (or 0 for the model's default), got ", rq.steps);
    check(std::isfinite(rq.guidance_scale) && std::abs(rq.guidance_scale) <= max_guidance_scale, "generate",
          "guidance scale must be in [", -max_guidance_scale, ", ", max_guidance_scale, "], got ", rq.guidance_scale);
    check(std::isfinite(rq.pag_scale) && std::abs(rq.pag_scale) <= max_guidance_scale && std::isfinite(rq.pag_adaptive_scale) &&
              std::abs(rq.pag_adaptive_scale) <= max_guidance_scale,
          "generate", "PAG scales must be in [", -max_guidance_scale, ", ", max_guidance_scale, "], got ", rq.pag_scale,
          " and ", rq.pag_adaptive_scale);
    check(std::isfinite(rq.shift) && rq.shift >= 0, "generate", "shift must be > 0 (or 0 for the scheduler's), got ",
          rq.shift);
    GeneratePlan p;
    const std::int64_t f = vae_scale();
    p.height = rq.height > 0 ? rq.height : native_size();
    p.width = rq.width > 0 ? rq.width : native_size();
    check(p.height % 32 == 0 && p.width % 32 == 0 && rq.height >= 0 && rq.width >= 0, "generate",
          "height and width must be multiples of 32, got ", p.width, "x", p.height);
    check(p.height <= max_image_side && p.width <= max_image_side, "generate", "size ", p.width, "x", p.height,
          " is above the limit of ", max_image_side, " px per side");
    p.gen_height = p.height;
    p.gen_width = p.width;
    const auto bins = aspect_bins_for_sample_size(transformer_->config().sample_size);  // as diffusers picks it
    if (rq.resolution_binning && !bins.empty()) {
      const AspectBin b = closest_bin(bins, p.height, p.width);
      p.gen_height = b.height;
      p.gen_width = b.width;
    }
    check(p.gen_height % f == 0 && p.gen_width % f == 0, "generate", "size ", p.gen_width, "x", p.gen_height,
          " is not a multiple of the VAE's ", f);
    const auto& tc = transformer_->config();
    p.images = static_cast<std::int64_t>(rq.prompts.size()) * rq.images_per_prompt;
    p.latent_channels = tc.in_channels;
    p.latent_height = p.gen_height / f;
    p.latent_width = p.gen_width / f;
    p.sprint = tc.guidance_embeds;
    check(!p.sprint || rq.pag_scale <= 0, "generate", "PAG is not available for Sana-Sprint models");
    check(tc.out_channels == tc.in_channels, "generate", "transformer out_channels ", tc.out_channels,
          " differ from in_channels ", tc.in_channels, " (learned-sigma models are not supported)");
    return p;
  }

  template <class S>
  static std::string sampler_name() {
    if constexpr (requires { std::string(S::name); }) return std::string(S::name);
    else return "custom";
  }
  template <class S>
  static double sampler_shift(const S& s) {
    if constexpr (requires { static_cast<double>(s.config().shift); }) return static_cast<double>(s.config().shift);
    else return 0.0;
  }

  /// The stages in order, each timed with the backend synchronised at its end.
  template <sampling::Sampler S>
  GenerateResult run(Ctx& ctx, const GenerateRequest& rq, const GeneratePlan& p, S& sampler, const GenerateCallbacks& cb) {
    using Clock = std::chrono::steady_clock;
    auto stage_end = [&ctx, t = Clock::now()]() mutable {  // seconds since the previous stage ended
      backend_traits<B>::synchronize(ctx);
      const auto now = Clock::now();
      const double s = std::chrono::duration<double>(now - t).count();
      t = now;
      return s;
    };
    GenerateResult::StageSeconds seconds;
    const PromptBatch<B, T> prompts = encode_prompts(ctx, rq, p);
    seconds.text = stage_end();
    Tensor<float, 4, B> x = prepare_latents(ctx, rq, p);  // (N, Cl, h, w)
    const int steps_run = denoise(ctx, rq, p, prompts, x, sampler, cb);
    seconds.denoise = stage_end();
    GenerateResult r = decode(ctx, rq, p, x);
    seconds.decode = stage_end();
    r.steps_run = steps_run;
    r.sampler = p.sampler;
    r.shift = sampler_shift(sampler);
    r.seconds = seconds;
    return r;
  }

  /// The branches' embeddings cast to the transformer's dtype and cut to the first M' positions some row needs,
  /// stacked along the batch; `mask` gets their (nb·N, M') key mask.
  Tensor<T, 3, B> stack_branches(Ctx& ctx, std::span<const text::PromptEmbeddings<B, TText>* const> branches,
                                 std::int64_t N, std::vector<float>& mask) {
    std::vector<Tensor<std::int64_t, 2, reference_backend>> masks;  // (N, M) per branch
    std::int64_t M = 1;
    const std::int64_t M_all = branches[0]->embeds.size(1), Cc = branches[0]->embeds.size(2);
    for (const auto* e : branches) {
      masks.push_back(to_host<B>(ctx, TensorView<const std::int64_t, 2, space>(e->mask.view())));
      M = std::max(M, text::kept_length(masks.back().data(), N, M_all));  // M'
    }
    const std::int64_t nb = static_cast<std::int64_t>(branches.size());
    Tensor<T, 3, B> batch({nb * N, M, Cc});  // (nb·N, M', Cc)
    mask.assign(static_cast<std::size_t>(nb * N * M), 0.0f);
    for (std::int64_t at = 0; at < nb; ++at) {
      ops::copy(ctx, TensorView<const TText, 3, space>(branches[static_cast<std::size_t>(at)]->embeds.view()).slice(1, 0, M),
                batch.view().slice(0, at * N, N));
      const std::int64_t* m = masks[static_cast<std::size_t>(at)].data();
      for (std::int64_t i = 0; i < N; ++i)
        for (std::int64_t j = 0; j < M; ++j)
          mask[static_cast<std::size_t>((at * N + i) * M + j)] = static_cast<float>(m[i * M_all + j]);
    }
    return batch;
  }

  /// Time conditioning of every model evaluation, computed before the loop (row e = evaluation e).
  struct TimeTables {
    Tensor<T, 3, B> temb, t6;                ///< (evaluations, nb·N, Cm), (evaluations, nb·N, 6·Cm)
    std::vector<std::int64_t> first_evaluation;  ///< per step, its first row
  };
  template <class S>
  TimeTables time_tables(Ctx& ctx, Workspace<B>& ws, const GenerateRequest& rq, const GeneratePlan& p,
                         const sampling::Guidance& guide, const S& s) {
    const auto& tc = transformer_->config();
    const std::int64_t nbN = guide.num_branches() * p.images, Cm = tc.width();
    // Sprint's g: the scale cast to the text-encoder dtype, then × guidance_embeds_scale in that dtype.
    std::vector<float> guidance;
    if (p.sprint)
      guidance.assign(static_cast<std::size_t>(nbN),
                      to_float(TText(to_float(TText(static_cast<float>(rq.guidance_scale))) *
                                 static_cast<float>(tc.guidance_embeds_scale))));
    // diffusers' SanaPipeline multiplies the model timestep by timestep_scale; SanaPAGPipeline does not (the
    // diffusers PAG variant keeps that), NVlabs always does.
    const bool diffusers_pag = guide.do_pag() && rq.pag_variant == dit::PagVariant::diffusers;
    const float timestep_scale = diffusers_pag ? 1.0f : static_cast<float>(tc.timestep_scale);
    TimeTables tt;
    const std::int64_t E = sampling::num_evaluations(s);
    tt.temb = Tensor<T, 3, B>({E, nbN, Cm});
    tt.t6 = Tensor<T, 3, B>({E, nbN, 6 * Cm});
    std::vector<float> t(static_cast<std::size_t>(nbN));
    std::int64_t e = 0;
    for (int i = 0; i < s.num_steps(); ++i) {
      tt.first_evaluation.push_back(e);
      for (int k = 0; k < s.num_stages(i); ++k, ++e) {
        const float ti = static_cast<float>(s.record(i, k).model_time);
        std::fill(t.begin(), t.end(), timestep_scale == 1.0f ? ti : ti * timestep_scale);
        transformer_->embed_time(ctx, ws, t, guidance, View<T, 2>(tt.temb.data() + e * nbN * Cm, {nbN, Cm}),
                                 View<T, 3>(tt.t6.data() + e * nbN * 6 * Cm, {nbN, 6, Cm}));
      }
    }
    ws.reset();
    return tt;
  }

  /// Per-step noise for samplers that need it (SCM), drawn and uploaded before the loop: `rq.step_noise`, or
  /// image k's Philox stream k + (i+1)·2^32 at step i. Empty when the sampler needs none.
  Tensor<float, 5, B> step_noise_table(Ctx& ctx, const GenerateRequest& rq, const GeneratePlan& p, bool needed) {
    const std::int64_t N = p.images, Cl = p.latent_channels, h = p.latent_height, w = p.latent_width;
    const std::int64_t latent_numel = N * Cl * h * w;
    const int steps = p.steps;
    if (!rq.step_noise.empty())
      check(needed && rq.step_noise.size() == static_cast<std::size_t>(steps * latent_numel), "generate",
            needed ? "step noise holds " + std::to_string(rq.step_noise.size()) + " values, " + std::to_string(steps) +
                         " steps of (" + std::to_string(N) + ", " + std::to_string(Cl) + ", " + std::to_string(h) +
                         ", " + std::to_string(w) + ") need " + std::to_string(steps * latent_numel)
                   : std::string("step noise is only used by samplers that draw noise (scm, for Sana-Sprint)"));
    if (!needed) return {};
    Tensor<float, 5, B> table({steps, N, Cl, h, w});  // (steps, N, Cl, h, w)
    std::vector<float> host(static_cast<std::size_t>(steps * latent_numel));
    if (!rq.step_noise.empty()) {
      check(std::all_of(rq.step_noise.begin(), rq.step_noise.end(), [](float v) { return std::isfinite(v); }),
            "generate", "the step noise holds NaN or Inf");
      std::copy(rq.step_noise.begin(), rq.step_noise.end(), host.begin());
    } else {
      const std::size_t per = static_cast<std::size_t>(Cl * h * w);
      for (int i = 0; i < steps; ++i)
        for (std::int64_t k = 0; k < N; ++k)
          fill_normal(std::span<float>(host).subspan(static_cast<std::size_t>(i * latent_numel) +
                                                         static_cast<std::size_t>(k) * per,
                                                     per),
                      rq.seed, rq.first_image + static_cast<std::uint64_t>(k) + (static_cast<std::uint64_t>(i + 1) << 32));
    }
    backend_traits<B>::upload(ctx, table.data(), host.data(), host.size() * sizeof(float));
    return table;
  }

  /// The samplers' linear combination as `ops::lincomb` on the backend, with fixed-size host arrays so the loop
  /// allocates nothing once the workspace has settled.
  static auto backend_lincomb(Ctx& ctx) {
    return [&ctx](const FView& out, std::span<const double> c, std::span<const FView> in) {
      check(c.size() <= static_cast<std::size_t>(kMaxLincombTerms), "generate", "lincomb of ", c.size(), " terms");
      std::array<float, kMaxLincombTerms> cf{};
      std::array<CFView, kMaxLincombTerms> cin{};
      for (std::size_t k = 0; k < c.size(); ++k) {
        cf[k] = static_cast<float>(c[k]);
        cin[k] = in[k];
      }
      ops::lincomb(ctx, std::span<const float>(cf.data(), c.size()), std::span<const CFView>(cin.data(), c.size()), out);
    };
  }

  /// The decoded (N, C, oh, ow) images resized back to the requested size when binning moved it, and as pixels.
  static GenerateResult finish_images(std::vector<float> img, const GeneratePlan& p, std::int64_t C, std::int64_t oh,
                                      std::int64_t ow) {
    const std::int64_t N = p.images, H = p.height, W = p.width;
    GenerateResult r;
    r.count = N;
    r.height = H;
    r.width = W;
    if (oh == H && ow == W) {
      r.images = std::move(img);
    } else {
      r.images.resize(static_cast<std::size_t>(N * C * H * W));
      for (std::int64_t k = 0; k < N; ++k)
        resize_and_crop(TensorView<const float, 3>(img.data() + k * C * oh * ow, {C, oh, ow}),
                        TensorView<float, 3>(r.images.data() + k * C * H * W, {C, H, W}));
    }
    r.pixels.resize(static_cast<std::size_t>(N * H * W * C));
    for (std::int64_t k = 0; k < N; ++k)
      to_pixels(TensorView<const float, 3>(r.images.data() + k * C * H * W, {C, H, W}),
                std::span<std::uint8_t>(r.pixels).subspan(static_cast<std::size_t>(k * H * W * C),
                                                          static_cast<std::size_t>(H * W * C)));
    return r;
  }
  /// Refuses a request whose estimated peak exceeds the machine's memory (host backends; the CUDA backend
  /// reports its own allocation failures with the size asked for).
  void check_memory(const GenerateRequest& rq, const GeneratePlan& p) const {
    if constexpr (std::is_same_v<space, host_space>)
      require_memory(static_cast<double>(estimate_bytes(rq, p)), "generate",
                     std::to_string(p.images) + " image(s) of " + std::to_string(p.width) + "x" + std::to_string(p.height),
                     rq.vae_tiling ? "; lower the size or the number of images"
                                   : "; lower the size or the number of images, or decode in tiles");
  }

  /// One host pass per stage: NaN or Inf there fails the request with the stage named, instead of a flat image.
  template <class U, std::size_t R>
  static void require_finite(Ctx& ctx, TensorView<const U, R, space> t, const char* stage) {
    const auto host = to_host<B>(ctx, t);
    const U* d = host.data();
    check(std::all_of(d, d + host.numel(), [](U v) { return std::isfinite(to_float(v)); }), "generate", stage,
          " hold NaN or Inf: non-finite weights or inputs, or values beyond the dtype's range (a very large "
          "guidance scale)");
  }

  template <class U>
  static std::vector<float> to_float_host(Ctx& ctx, const Tensor<U, 4, B>& t) {
    auto host = to_host<B>(ctx, TensorView<const U, 4, space>(t.view()));
    std::vector<float> v(static_cast<std::size_t>(host.numel()));
    for (std::int64_t i = 0; i < host.numel(); ++i) v[static_cast<std::size_t>(i)] = to_float(host.data()[i]);
    return v;
  }

  SchedulerSettings scheduler_;
  std::unique_ptr<dit::SanaTransformer<B, T>> transformer_;
  dit::MergedLoras<B, T> loras_;  // the originals of the weights set_loras changed
  std::unique_ptr<dcae::AutoencoderDC<B, TVae>> vae_;
  std::unique_ptr<text::PromptEncoder<B, TText>> text_;
};

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
