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
#include "sana/sampling/guidance.hpp"
#include "sana/sampling/sample.hpp"
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
  std::string sampler;                   ///< "", "flow-dpm", "flow-euler" or "scm" (Sprint)
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
    // Sprint: guidance goes into the model, one branch; the sampler is SCM and only SCM.
    p.sprint = tc.guidance_embeds;
    p.sampler = !rq.sampler.empty() ? rq.sampler : p.sprint ? std::string("scm") : scheduler_.sampler;
    check(p.sprint == (p.sampler == "scm"), "generate",
          p.sprint ? "this transformer embeds guidance (Sana-Sprint) and samples with scm only, not '" + p.sampler + "'"
                   : std::string("the scm sampler needs a Sana-Sprint transformer (guidance_embeds)"));
    check(!p.sprint || rq.pag_scale <= 0, "generate", "PAG is not available for Sana-Sprint models");
    p.steps = rq.steps > 0 ? rq.steps : p.sprint ? 2 : 20;
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
    const double sampler = latent * 8.0 + (p.sprint ? latent * p.steps : 0.0);
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

  GenerateResult generate(Ctx& ctx, const GenerateRequest& rq, const GenerateCallbacks& cb = {}) {
    using Clock = std::chrono::steady_clock;
    auto stage_end = [&ctx, t = Clock::now()]() mutable {  // seconds since the previous stage ended
      backend_traits<B>::synchronize(ctx);
      const auto now = Clock::now();
      const double s = std::chrono::duration<double>(now - t).count();
      t = now;
      return s;
    };
    GenerateResult::StageSeconds seconds;
    const GeneratePlan pl = plan(rq);
    const auto& tc = transformer_->config();
    const std::int64_t N = pl.images, Cl = pl.latent_channels, h = pl.latent_height, w = pl.latent_width;
    const std::int64_t H = pl.height, W = pl.width, gh = pl.gen_height, gw = pl.gen_width, f = vae_scale();
    const std::int64_t latent_numel = N * Cl * h * w;
    const bool sprint = pl.sprint;
    const std::string& sampler = pl.sampler;
    const int steps = pl.steps;
    sampling::Guidance guide{sprint ? 1.0 : rq.guidance_scale, rq.pag_scale, rq.pag_adaptive_scale};
    check(!guide.do_pag() || !rq.pag_blocks.empty(), "generate", "PAG needs at least one transformer block");
    transformer_->set_pag_blocks(guide.do_pag() ? std::span<const std::int64_t>(rq.pag_blocks)
                                                : std::span<const std::int64_t>(),
                                 rq.pag_variant);
    const std::int64_t nb = guide.num_branches();

    // 1. Text: positive prompts (repeated per image), negative once; branch order [uncond, cond, perturbed].
    Workspace<B> ws;
    std::vector<std::string> pos;
    for (const auto& p : rq.prompts)
      for (int j = 0; j < rq.images_per_prompt; ++j) pos.push_back(p);
    check(rq.max_sequence_length == text_->options().max_sequence_length, "generate", "max_sequence_length ",
          rq.max_sequence_length, " differs from the encoder's ", text_->options().max_sequence_length);
    // Padded text positions are masked out of every cross-attention (their weight is exactly 0), so Gemma-2 stops
    // at the last real token and the transformer only sees the first M' positions some row needs (the text stage's
    // per-block K/V and each step's cross-attention shrink from 300 keys to M'); the image is unchanged.
    auto cond = text_->encode(ctx, ws, pos, text::PaddedTokens::zeroed);
    ws.reset();
    std::optional<text::PromptEmbeddings<B, TText>> uncond;
    if (guide.do_cfg()) {
      uncond = text_->encode_negative(ctx, ws, rq.negative_prompt, N, text::PaddedTokens::zeroed);
      ws.reset();
    }
    const std::int64_t M_all = cond.embeds.size(1), Cc = cond.embeds.size(2);
    const auto cond_mask = to_host<B>(ctx, TensorView<const std::int64_t, 2, space>(cond.mask.view()));  // (N, M)
    std::optional<Tensor<std::int64_t, 2, reference_backend>> uncond_mask;
    if (uncond) uncond_mask = to_host<B>(ctx, TensorView<const std::int64_t, 2, space>(uncond->mask.view()));
    const std::int64_t M = std::max(text::kept_length(cond_mask.data(), N, M_all),
                                    uncond_mask ? text::kept_length(uncond_mask->data(), N, M_all) : 1);  // M'
    Tensor<T, 3, B> text_batch({nb * N, M, Cc});  // (nb·N, M', Cc)
    std::vector<float> mask(static_cast<std::size_t>(nb * N * M));
    {
      std::int64_t at = 0;
      auto put = [&](const text::PromptEmbeddings<B, TText>& e, const Tensor<std::int64_t, 2, reference_backend>& m) {
        // cast to the transformer's dtype; the first M' positions
        ops::copy(ctx, TensorView<const TText, 3, space>(e.embeds.view()).slice(1, 0, M),
                  text_batch.view().slice(0, at * N, N));
        for (std::int64_t i = 0; i < N; ++i)
          for (std::int64_t j = 0; j < M; ++j)
            mask[static_cast<std::size_t>((at * N + i) * M + j)] = static_cast<float>(m.data()[i * M_all + j]);
        ++at;
      };
      if (uncond) put(*uncond, *uncond_mask);
      put(cond, cond_mask);
      if (guide.do_pag()) put(cond, cond_mask);
    }
    require_finite(ctx, TensorView<const T, 3, space>(text_batch.view()), "the prompt embeddings (text encoder)");
    auto text_kv = transformer_->encode_text(ctx, ws, TensorView<const T, 3, space>(text_batch.view()), mask);
    ws.reset();

    seconds.text = stage_end();

    // 2. Initial latents (fp32 on the backend).
    Tensor<float, 4, B> x({N, Cl, h, w});  // (N, Cl, h, w)
    {
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
    }

    // 3. Denoising. Buffers allocated once, here.
    const double shift = rq.shift > 0 ? rq.shift : scheduler_.shift;
    Tensor<T, 4, B> model_in({nb * N, Cl, h, w});                      // (nb·N, Cl, h, w)
    Tensor<T, 4, B> model_out({nb * N, tc.out_channels, h, w});        // (nb·N, Cout, h, w)
    Tensor<float, 4, B> branch_v({nb * N, tc.out_channels, h, w});     // (nb·N, Cout, h, w) fp32
    check(tc.out_channels == Cl, "generate", "transformer out_channels ", tc.out_channels, " differ from in_channels ",
          Cl, " (learned-sigma models are not supported)");
    // Sprint's g: the scale cast to the text-encoder dtype, then × guidance_embeds_scale in that dtype.
    std::vector<float> guidance;
    if (sprint)
      guidance.assign(static_cast<std::size_t>(N),
                      to_float(TText(to_float(TText(static_cast<float>(rq.guidance_scale))) *
                                 static_cast<float>(tc.guidance_embeds_scale))));
    // diffusers' SanaPipeline multiplies the model timestep by timestep_scale; SanaPAGPipeline does not (the
    // diffusers PAG variant keeps that), NVlabs always does.
    const bool diffusers_pag = guide.do_pag() && rq.pag_variant == dit::PagVariant::diffusers;
    const float timestep_scale = diffusers_pag ? 1.0f : static_cast<float>(tc.timestep_scale);
    // Fixed-size host arrays: the loop allocates nothing once the workspace has settled.
    auto lincomb = [&](const FView& out, std::span<const double> c, std::span<const FView> in) {
      check(c.size() <= static_cast<std::size_t>(kMaxLincombTerms), "generate", "lincomb of ", c.size(), " terms");
      std::array<float, kMaxLincombTerms> cf{};
      std::array<CFView, kMaxLincombTerms> cin{};
      for (std::size_t k = 0; k < c.size(); ++k) {
        cf[k] = static_cast<float>(c[k]);
        cin[k] = in[k];
      }
      ops::lincomb(ctx, std::span<const float>(cf.data(), c.size()), std::span<const CFView>(cin.data(), c.size()), out);
    };
    int steps_run = 0;
    struct EarlyStop {};
    // The sampler calls the model at step i after step i-1's update: the callbacks for step i-1 run then (and for
    // the last step after the loop), so they see the updated latents and an early stop leaves them in x.
    std::vector<float> preview;
    auto after_step = [&](int i) {
      steps_run = i + 1;
      if (cb.on_latents) {
        preview.resize(static_cast<std::size_t>(latent_numel));
        backend_traits<B>::download(ctx, preview.data(), x.data(), preview.size() * sizeof(float));
        cb.on_latents(i, TensorView<const float, 4>(preview.data(), {N, Cl, h, w}));
      }
      if (cb.on_step && !cb.on_step(i, steps) && i + 1 < steps) throw EarlyStop{};
    };
    // Time conditioning of every step, computed before the loop (run_sampler fills the tables); each step copies
    // its row into fixed buffers, so the model evaluation reads and writes the same memory at every step and
    // uploads nothing: `graph` may record it once and replay it (CUDA graphs; a plain call elsewhere).
    const std::int64_t Cm = tc.width(), nbN = nb * N;
    Tensor<T, 3, B> temb_table, t6_table;  // (steps, nb·N, Cm), (steps, nb·N, 6·Cm)
    Tensor<T, 2, B> temb_now({nbN, Cm});   // (nb·N, Cm)
    Tensor<T, 3, B> t6_now({nbN, 6, Cm});  // (nb·N, 6, Cm)
    auto fill_time_tables = [&](const auto& s) {
      const std::int64_t S = s.num_steps();
      temb_table = Tensor<T, 3, B>({S, nbN, Cm});
      t6_table = Tensor<T, 3, B>({S, nbN, 6 * Cm});
      std::vector<float> t(static_cast<std::size_t>(nbN));
      for (std::int64_t i = 0; i < S; ++i) {
        const float ti = static_cast<float>(s.model_time(static_cast<int>(i)));
        std::fill(t.begin(), t.end(), timestep_scale == 1.0f ? ti : ti * timestep_scale);
        transformer_->embed_time(ctx, ws, t, guidance, View<T, 2>(temb_table.data() + i * nbN * Cm, {nbN, Cm}),
                                 View<T, 3>(t6_table.data() + i * nbN * 6 * Cm, {nbN, 6, Cm}));
      }
      ws.reset();
    };
    StepGraph<B> graph;
    const float* graph_input = nullptr;
    auto velocity = [&](int i, double t, const FView& xin, const FView& v) {
      if (i > 0) after_step(i - 1);
      ops::copy(ctx, CView<T, 2>(temb_table.data() + i * nbN * Cm, {nbN, Cm}), temb_now.view());
      ops::copy(ctx, CView<T, 3>(t6_table.data() + i * nbN * 6 * Cm, {nbN, 6, Cm}), t6_now.view());
      if (xin.data() != graph_input) {  // a recording is only valid for the buffers it saw
        graph.reset();
        graph_input = xin.data();
      }
      ws.reset();  // outside the recording: after step 0 this folds the workspace into one block, once
      auto evaluate = [&] {
        for (std::int64_t b = 0; b < nb; ++b) ops::copy(ctx, CFView(xin), model_in.view().slice(0, b * N, N));
        transformer_->forward(ctx, ws, TensorView<const T, 4, space>(model_in.view()),
                              dit::TimeConditioning<B, T>{temb_now.view(), t6_now.view()}, text_kv, model_out.view(),
                              guide.do_pag() ? N : 0);
        ops::copy(ctx, TensorView<const T, 4, space>(model_out.view()), branch_v.view());
      };
      if (rq.record_steps) graph.run(ctx, evaluate);
      else evaluate();
      std::array<FView, 3> br;
      for (std::int64_t b = 0; b < nb; ++b) br[static_cast<std::size_t>(b)] = branch_v.view().slice(0, b * N, N);  // (N, Cl, h, w)
      guide.combine(v, std::span<const FView>(br.data(), static_cast<std::size_t>(nb)), t, lincomb);
    };

    // SCM's per-step noise: the caller's, or image k's Philox stream k + (i+1)·2^32.
    const std::size_t latent_size = static_cast<std::size_t>(latent_numel);
    if (!rq.step_noise.empty())
      check(sprint && rq.step_noise.size() == static_cast<std::size_t>(steps) * latent_size, "generate",
            sprint ? "step noise holds " + std::to_string(rq.step_noise.size()) + " values, " + std::to_string(steps) +
                         " steps of (" + std::to_string(N) + ", " + std::to_string(Cl) + ", " + std::to_string(h) +
                         ", " + std::to_string(w) + ") need " + std::to_string(steps * latent_numel)
                   : std::string("step noise is only used by the scm sampler (Sana-Sprint)"));
    // All of it drawn and uploaded before the loop (no host round trip inside).
    Tensor<float, 5, B> noise_table;  // (steps, N, Cl, h, w)
    if (sprint) {
      noise_table = Tensor<float, 5, B>({steps, N, Cl, h, w});
      std::vector<float> host(static_cast<std::size_t>(steps) * latent_size);
      if (!rq.step_noise.empty()) {
        check(std::all_of(rq.step_noise.begin(), rq.step_noise.end(), [](float v) { return std::isfinite(v); }),
              "generate", "the step noise holds NaN or Inf");
        std::copy(rq.step_noise.begin(), rq.step_noise.end(), host.begin());
      } else {
        const std::size_t per = static_cast<std::size_t>(Cl * h * w);
        for (int i = 0; i < steps; ++i)
          for (std::int64_t k = 0; k < N; ++k)
            fill_normal(std::span<float>(host).subspan(static_cast<std::size_t>(i) * latent_size +
                                                           static_cast<std::size_t>(k) * per,
                                                       per),
                        rq.seed, rq.first_image + static_cast<std::uint64_t>(k) + (static_cast<std::uint64_t>(i + 1) << 32));
      }
      backend_traits<B>::upload(ctx, noise_table.data(), host.data(), host.size() * sizeof(float));
    }
    auto step_noise = [&](int i, const FView& out) {
      ops::copy(ctx, CFView(noise_table.data() + static_cast<std::int64_t>(i) * latent_numel, {N, Cl, h, w}), out);
    };
    auto run_sampler = [&](auto& s) {
      s.set_timesteps(steps);
      fill_time_tables(s);
      const int nbuf = sampling::workspace_buffers(s);
      std::vector<Tensor<float, 4, B>> store;
      std::vector<FView> bufs;
      for (int k = 0; k < nbuf; ++k) store.emplace_back(Shape<4>{N, Cl, h, w});
      for (auto& s2 : store) bufs.push_back(s2.view());
      try {
        if constexpr (std::is_same_v<std::decay_t<decltype(s)>, sampling::ScmSolver>)
          sampling::sample(s, velocity, x.view(), lincomb, std::span<const FView>(bufs), step_noise);
        else
          sampling::sample(s, velocity, x.view(), lincomb, std::span<const FView>(bufs));
        after_step(s.num_steps() - 1);
      } catch (const EarlyStop&) {
      }
    };
    if (sampler == "flow-dpm") {
      sampling::FlowDpmSolverConfig c;
      c.shift = shift;
      c.order = scheduler_.order;
      c.num_train_timesteps = scheduler_.num_train_timesteps;
      c.lower_order_final = scheduler_.lower_order_final;
      c.euler_at_final = scheduler_.euler_at_final;
      c.final_sigma = scheduler_.final_sigma_min ? sampling::FinalSigma::sigma_min : sampling::FinalSigma::zero;
      c.beta_start = scheduler_.beta_start;
      c.solver_type = scheduler_.heun ? sampling::SolverType::heun : sampling::SolverType::midpoint;
      sampling::FlowDpmSolver s(c);
      run_sampler(s);
    } else if (sampler == "flow-euler") {
      sampling::FlowEulerConfig c;
      c.shift = shift;
      c.num_train_timesteps = scheduler_.num_train_timesteps;
      sampling::FlowEuler s(c);
      run_sampler(s);
    } else if (sampler == "scm") {
      sampling::ScmSolver s;  // Sprint's angles: 2 steps [1.5708, 1.3, 0], otherwise linspace(1.5708, 0, N+1)
      run_sampler(s);
    } else {
      fail("generate", "unknown sampler '", sampler, "' (flow-dpm, flow-euler, scm)");
    }

    require_finite(ctx, TensorView<const float, 4, space>(x.view()), "the latents after denoising");
    seconds.denoise = stage_end();

    // 4. Decode: latents / scaling_factor → images.
    Tensor<TVae, 4, B> z({N, Cl, h, w});  // (N, Cl, h, w)
    {
      const float inv = static_cast<float>(1.0 / vae_->config.scaling_factor);
      std::array<CFView, 1> in{CFView(x.view())};
      Tensor<float, 4, B> zs({N, Cl, h, w});
      ops::lincomb(ctx, std::span<const float>(&inv, 1), std::span<const CFView>(in), zs.view());
      ops::copy(ctx, CFView(zs.view()), z.view());
    }
    const std::int64_t C = vae_->config.in_channels;
    std::vector<float> img;  // (N, C, gh, gw)
    std::int64_t oh = gh, ow = gw;
    ws.reset();
    dcae::Tiling t;  // diffusers' 512 px tiles, stride 448 px; like diffusers, tile only when a side exceeds a tile
    if (rq.vae_tiling && dcae::decode_needs_tiling(vae_->config, t, h, w)) {
      oh = dcae::tiled_decode_extent(h, t.tile_h / f, t.stride_h / f, f, t.stride_h);
      ow = dcae::tiled_decode_extent(w, t.tile_w / f, t.stride_w / f, f, t.stride_w);
      Tensor<TVae, 4, reference_backend> out({N, C, oh, ow});  // (N, C, oh, ow) on the host: tiles are blended there
      dcae::tiled_decode(vae_->decoder, ctx, ws, TensorView<const TVae, 4, space>(z.view()), out.view(), t);
      img.resize(static_cast<std::size_t>(out.numel()));
      for (std::int64_t i = 0; i < out.numel(); ++i) img[static_cast<std::size_t>(i)] = to_float(out.data()[i]);
    }
    if (img.empty()) {
      Tensor<TVae, 4, B> out({N, C, gh, gw});  // (N, C, gh, gw)
      vae_->decode(ctx, ws, TensorView<const TVae, 4, space>(z.view()), out.view());
      img = to_float_host(ctx, out);
    }

    check(std::all_of(img.begin(), img.end(), [](float v) { return std::isfinite(v); }), "generate",
          "the decoded images hold NaN or Inf (the VAE decoder's weights, or its dtype's range)");

    // 5. Back to the requested size when binning moved it.
    GenerateResult r;
    r.count = N;
    r.height = H;
    r.width = W;
    r.steps_run = steps_run;
    r.sampler = sampler;
    r.shift = sampler == "scm" ? 0.0 : shift;
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
    seconds.decode = stage_end();
    r.seconds = seconds;
    return r;
  }

private:
  SanaPipeline() = default;

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
  std::unique_ptr<dcae::AutoencoderDC<B, TVae>> vae_;
  std::unique_ptr<text::PromptEncoder<B, TText>> text_;
};

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
