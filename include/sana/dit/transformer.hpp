/// @file
/// `dit::SanaTransformer<B, T>`: diffusers' SanaTransformer2DModel (Linear DiT) for every released family:
/// Sana 1.0 (0.6B/1.6B), 2K/4K (sincos positional embedding), Sana 1.5 (qk RMSNorm across heads),
/// Sana-Sprint (guidance embedder), plus PAG's identity self-attention on chosen blocks.
/// Tokens stay channels-last (B, N, C) end to end; the Mix-FFN depthwise conv reads them as (B, h, w, 2F).
/// Parameter names are the diffusers checkpoint keys; q/k/v of self-attention and k/v of cross-attention
/// are stored fused (one GEMM each), and `visit_parameters` hands out the per-key slices.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sana/core/tensor.hpp"
#include "sana/core/workspace.hpp"
#include "sana/dit/attention.hpp"
#include "sana/dit/config.hpp"
#include "sana/dit/embeddings.hpp"
#include "sana/ops.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dit {

template <class B, class T>
using DView = TensorView<T, 1, space_t<B>>;

/// One Linear-DiT block's parameters (diffusers `SanaTransformerBlock`).
template <class B, class T>
struct Block {
  Tensor<T, 2, B> scale_shift_table;  // (6, C): shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp
  Tensor<T, 2, B> attn1_qkv_w;        // (3C, C) = to_q | to_k | to_v
  Tensor<T, 1, B> attn1_qkv_b;        // (3C) only with attention_bias
  Tensor<T, 1, B> attn1_norm_q, attn1_norm_k;  // (C) with qk_norm
  Tensor<T, 2, B> attn1_out_w;        // (C, C)
  Tensor<T, 1, B> attn1_out_b;        // (C)
  Tensor<T, 2, B> attn2_q_w;          // (Ci, C)
  Tensor<T, 1, B> attn2_q_b;          // (Ci)
  Tensor<T, 2, B> attn2_kv_w;         // (2Ci, C) = to_k | to_v
  Tensor<T, 1, B> attn2_kv_b;         // (2Ci)
  Tensor<T, 1, B> attn2_norm_q, attn2_norm_k;  // (Ci) with qk_norm
  Tensor<T, 2, B> attn2_out_w;        // (C, Ci)
  Tensor<T, 1, B> attn2_out_b;        // (C)
  Tensor<T, 2, B> ff_inverted_w;      // (2F, C) = conv_inverted (2F, C, 1, 1)
  Tensor<T, 1, B> ff_inverted_b;      // (2F)
  Tensor<T, 4, B> ff_depth_w;         // (2F, 1, 3, 3)
  Tensor<T, 1, B> ff_depth_b;         // (2F)
  Tensor<T, 2, B> ff_point_w;         // (C, F) = conv_point (C, F, 1, 1), no bias

  Block(const TransformerConfig& c) {
    const std::int64_t C = c.width(), Ci = c.cross_width(), F = c.ffn_hidden();
    scale_shift_table = Tensor<T, 2, B>({6, C});
    attn1_qkv_w = Tensor<T, 2, B>({3 * C, C});
    if (c.attention_bias) attn1_qkv_b = Tensor<T, 1, B>({3 * C});
    if (c.qk_norm) {
      attn1_norm_q = Tensor<T, 1, B>({C});
      attn1_norm_k = Tensor<T, 1, B>({C});
      attn2_norm_q = Tensor<T, 1, B>({Ci});
      attn2_norm_k = Tensor<T, 1, B>({Ci});
    }
    attn1_out_w = Tensor<T, 2, B>({C, C});
    attn1_out_b = Tensor<T, 1, B>({C});
    attn2_q_w = Tensor<T, 2, B>({Ci, C});
    attn2_q_b = Tensor<T, 1, B>({Ci});
    attn2_kv_w = Tensor<T, 2, B>({2 * Ci, C});
    attn2_kv_b = Tensor<T, 1, B>({2 * Ci});
    attn2_out_w = Tensor<T, 2, B>({C, Ci});
    attn2_out_b = Tensor<T, 1, B>({C});
    ff_inverted_w = Tensor<T, 2, B>({2 * F, C});
    ff_inverted_b = Tensor<T, 1, B>({2 * F});
    ff_depth_w = Tensor<T, 4, B>({2 * F, 1, 3, 3});
    ff_depth_b = Tensor<T, 1, B>({2 * F});
    ff_point_w = Tensor<T, 2, B>({C, F});
  }

  /// f(key, view) for every parameter, with the diffusers key relative to the block.
  template <class Fn>
  void visit_parameters(const std::string& p, Fn&& f) {
    const std::int64_t C = attn1_out_w.size(0), Ci = attn2_q_w.size(0), F = ff_point_w.size(1);
    f(p + "scale_shift_table", scale_shift_table.view());
    const char* qkv[3] = {"to_q", "to_k", "to_v"};
    for (int i = 0; i < 3; ++i) {
      f(p + "attn1." + qkv[i] + ".weight", attn1_qkv_w.view().slice(0, i * C, C));
      if (attn1_qkv_b.defined()) f(p + "attn1." + qkv[i] + ".bias", attn1_qkv_b.view().slice(0, i * C, C));
    }
    if (attn1_norm_q.defined()) {
      f(p + "attn1.norm_q.weight", attn1_norm_q.view());
      f(p + "attn1.norm_k.weight", attn1_norm_k.view());
    }
    f(p + "attn1.to_out.0.weight", attn1_out_w.view());
    f(p + "attn1.to_out.0.bias", attn1_out_b.view());
    f(p + "attn2.to_q.weight", attn2_q_w.view());
    f(p + "attn2.to_q.bias", attn2_q_b.view());
    f(p + "attn2.to_k.weight", attn2_kv_w.view().slice(0, 0, Ci));
    f(p + "attn2.to_k.bias", attn2_kv_b.view().slice(0, 0, Ci));
    f(p + "attn2.to_v.weight", attn2_kv_w.view().slice(0, Ci, Ci));
    f(p + "attn2.to_v.bias", attn2_kv_b.view().slice(0, Ci, Ci));
    if (attn2_norm_q.defined()) {
      f(p + "attn2.norm_q.weight", attn2_norm_q.view());
      f(p + "attn2.norm_k.weight", attn2_norm_k.view());
    }
    f(p + "attn2.to_out.0.weight", attn2_out_w.view());
    f(p + "attn2.to_out.0.bias", attn2_out_b.view());
    f(p + "ff.conv_inverted.weight", ff_inverted_w.view().template reshape<4>({2 * F, C, 1, 1}));
    f(p + "ff.conv_inverted.bias", ff_inverted_b.view());
    f(p + "ff.conv_depth.weight", ff_depth_w.view());
    f(p + "ff.conv_depth.bias", ff_depth_b.view());
    f(p + "ff.conv_point.weight", ff_point_w.view().template reshape<4>({C, F, 1, 1}));
  }
};

/// The time side of one forward: temb (B, C) — the embedded timestep (plus guidance, Sprint) — and the
/// modulation table t6 (B, 6, C) every block reads. It depends only on the timestep values, so a sampler
/// can compute it for all its steps before the loop (`SanaTransformer::embed_time`): the loop then uploads
/// nothing, which lets a device backend record it once and replay it.
template <class B, class T>
struct TimeConditioning {
  TensorView<const T, 2, space_t<B>> temb;  // (B, C)
  TensorView<const T, 3, space_t<B>> t6;    // (B, 6, C)
};

/// The text side of the cross-attention for one prompt batch: per block the projected keys and values
/// (B, L, 2Ci) and the additive key bias (B, L). Computed once per prompt and reused at every step.
template <class B, class T>
struct TextConditioning {
  std::vector<Tensor<T, 3, B>> kv;   // per block (B, L, 2Ci) = K | V (K already qk-normalised)
  Tensor<T, 2, B> bias;              // (B, L): (1 - mask) * -10000 in T; undefined without a mask
  std::int64_t batch = 0, length = 0;
};

/// diffusers SanaTransformer2DModel, inference only.
/// How PAG's perturbed blocks treat a qk_norm model's self-attention (see SanaTransformer::set_pag_blocks).
enum class PagVariant {
  diffusers,  ///< SanaPAGPipeline: no norm_q/norm_k in PAG blocks (the reference users compare against)
  nvlabs      ///< NVlabs Sana: norm_q/norm_k as in every other block
};

template <class B, class T>
class SanaTransformer {
public:
  using Ctx = context_t<B>;
  using Space = space_t<B>;
  template <std::size_t R> using View = TensorView<T, R, Space>;
  template <std::size_t R> using CView = TensorView<const T, R, Space>;

  /// Inputs of one forward call. Timesteps (and guidance) are host values, one per batch item, as the
  /// sampler produces them; the mask is host 0/1 per text token (nullopt: every token is valid).
  struct Inputs {
    CView<4> latents;                          // (B, in_channels, h, w)
    CView<3> text;                             // (B, L, caption_channels)
    std::span<const float> timestep;           // (B)
    std::span<const float> guidance;           // (B) Sprint only
    std::span<const float> text_mask;          // (B * L) or empty
    std::int64_t pag_perturbed = 0;            // trailing batch items that take PAG's identity attention
  };

  explicit SanaTransformer(const TransformerConfig& config) : cfg_(config) {
    cfg_.validate();
    const std::int64_t C = cfg_.width();
    patch_w_ = Tensor<T, 2, B>({C, cfg_.in_channels});
    patch_b_ = Tensor<T, 1, B>({C});
    t_lin1_w_ = Tensor<T, 2, B>({C, 256});
    t_lin1_b_ = Tensor<T, 1, B>({C});
    t_lin2_w_ = Tensor<T, 2, B>({C, C});
    t_lin2_b_ = Tensor<T, 1, B>({C});
    if (cfg_.guidance_embeds) {
      g_lin1_w_ = Tensor<T, 2, B>({C, 256});
      g_lin1_b_ = Tensor<T, 1, B>({C});
      g_lin2_w_ = Tensor<T, 2, B>({C, C});
      g_lin2_b_ = Tensor<T, 1, B>({C});
    }
    t6_w_ = Tensor<T, 2, B>({6 * C, C});
    t6_b_ = Tensor<T, 1, B>({6 * C});
    cap1_w_ = Tensor<T, 2, B>({C, cfg_.caption_channels});
    cap1_b_ = Tensor<T, 1, B>({C});
    cap2_w_ = Tensor<T, 2, B>({C, C});
    cap2_b_ = Tensor<T, 1, B>({C});
    cap_norm_ = Tensor<T, 1, B>({C});
    blocks_.reserve(static_cast<std::size_t>(cfg_.num_layers));
    for (std::int64_t i = 0; i < cfg_.num_layers; ++i) blocks_.emplace_back(cfg_);
    out_table_ = Tensor<T, 2, B>({2, C});
    proj_out_w_ = Tensor<T, 2, B>({cfg_.out_channels, C});
    proj_out_b_ = Tensor<T, 1, B>({cfg_.out_channels});
    pag_.assign(blocks_.size(), false);
    extensions_.resize(blocks_.size());
  }

  const TransformerConfig& config() const { return cfg_; }

  /// Block `block`'s extension points (attention processors and hooks, dit/attention.hpp):
  ///   transformer.extensions(3).self_attention = dit::softmax_self_attention<B, T>();
  BlockExtensions<B, T>& extensions(std::size_t block) {
    check(block < extensions_.size(), "dit", "block ", block, " outside [0, ", extensions_.size(), ")");
    return extensions_[block];
  }
  /// `fn` as the self-attention of `blocks` (all blocks when empty); an empty `fn` restores the built-in.
  void set_self_attention(SelfAttentionFn<B, T> fn, std::span<const std::int64_t> blocks = {}) {
    for_blocks(blocks, [&](BlockExtensions<B, T>& e) { e.self_attention = fn; });
  }
  /// `fn` as the cross-attention of `blocks` (all blocks when empty); an empty `fn` restores the built-in.
  void set_cross_attention(CrossAttentionFn<B, T> fn, std::span<const std::int64_t> blocks = {}) {
    for_blocks(blocks, [&](BlockExtensions<B, T>& e) { e.cross_attention = fn; });
  }
  /// True when some block has a processor or hook set (the pipeline then does not record CUDA graphs).
  bool has_extensions() const {
    return std::any_of(extensions_.begin(), extensions_.end(), [](const auto& e) { return !e.empty(); });
  }
  void clear_extensions() { extensions_.assign(blocks_.size(), BlockExtensions<B, T>{}); }

  /// f(key, view) for every parameter with its diffusers checkpoint key and shape.
  template <class Fn>
  void visit_parameters(Fn&& f) {
    const std::int64_t C = cfg_.width();
    f(std::string("patch_embed.proj.weight"), patch_w_.view().template reshape<4>({C, cfg_.in_channels, 1, 1}));
    f(std::string("patch_embed.proj.bias"), patch_b_.view());
    const std::string te = cfg_.guidance_embeds ? "time_embed." : "time_embed.emb.";
    f(te + "timestep_embedder.linear_1.weight", t_lin1_w_.view());
    f(te + "timestep_embedder.linear_1.bias", t_lin1_b_.view());
    f(te + "timestep_embedder.linear_2.weight", t_lin2_w_.view());
    f(te + "timestep_embedder.linear_2.bias", t_lin2_b_.view());
    if (cfg_.guidance_embeds) {
      f(std::string("time_embed.guidance_embedder.linear_1.weight"), g_lin1_w_.view());
      f(std::string("time_embed.guidance_embedder.linear_1.bias"), g_lin1_b_.view());
      f(std::string("time_embed.guidance_embedder.linear_2.weight"), g_lin2_w_.view());
      f(std::string("time_embed.guidance_embedder.linear_2.bias"), g_lin2_b_.view());
    }
    f(std::string("time_embed.linear.weight"), t6_w_.view());
    f(std::string("time_embed.linear.bias"), t6_b_.view());
    f(std::string("caption_projection.linear_1.weight"), cap1_w_.view());
    f(std::string("caption_projection.linear_1.bias"), cap1_b_.view());
    f(std::string("caption_projection.linear_2.weight"), cap2_w_.view());
    f(std::string("caption_projection.linear_2.bias"), cap2_b_.view());
    f(std::string("caption_norm.weight"), cap_norm_.view());
    for (std::size_t i = 0; i < blocks_.size(); ++i)
      blocks_[i].visit_parameters("transformer_blocks." + std::to_string(i) + ".", f);
    f(std::string("scale_shift_table"), out_table_.view());
    f(std::string("proj_out.weight"), proj_out_w_.view());
    f(std::string("proj_out.bias"), proj_out_b_.view());
  }

  /// Number of scalar parameters (the diffusers count).
  std::int64_t parameter_count() {
    std::int64_t n = 0;
    visit_parameters([&](const std::string&, const auto& v) { n += v.numel(); });
    return n;
  }

  /// Blocks whose self-attention uses PAG's identity branch for the `pag_perturbed` trailing batch items
  /// (diffusers' PAGIdentitySanaLinearAttnProcessor2_0; pipelines pick e.g. "transformer_blocks.8"). With qk_norm
  /// models the variants differ: diffusers' PAG processors skip norm_q/norm_k in those blocks (all branches), NVlabs'
  /// PAGCFGIdentitySelfAttnProcessorLiteLA applies them as the plain block does.
  void set_pag_blocks(std::span<const std::int64_t> blocks, PagVariant variant = PagVariant::diffusers) {
    pag_variant_ = variant;
    pag_.assign(blocks_.size(), false);
    for (auto i : blocks) {
      check(i >= 0 && i < static_cast<std::int64_t>(blocks_.size()), "dit", "PAG block ", i, " outside [0, ",
            blocks_.size(), ")");
      pag_[static_cast<std::size_t>(i)] = true;
    }
  }

  /// Projects the text once per prompt: caption projection + RMSNorm, then every block's cross-attention
  /// keys/values, and the mask bias. Allocates the returned tensors (call it outside the denoising loop).
  TextConditioning<B, T> encode_text(Ctx& ctx, Workspace<B>& ws, CView<3> text, std::span<const float> mask) {
    const std::int64_t Bn = text.size(0), L = text.size(1), Ci = cfg_.cross_width();
    TextConditioning<B, T> tc;
    tc.batch = Bn;
    tc.length = L;
    auto scope = ws.scope();
    auto y = caption(ctx, ws, text);  // (B, L, C)
    for (auto& blk : blocks_) {
      Tensor<T, 3, B> kv({Bn, L, 2 * Ci});  // (B, L, 2Ci)
      text_kv(ctx, blk, y, kv.view());
      tc.kv.push_back(std::move(kv));
    }
    if (!mask.empty()) {
      tc.bias = Tensor<T, 2, B>({Bn, L});
      upload_mask_bias(ctx, mask, tc.bias.view());
    }
    return tc;
  }

  /// out (B, out_channels, h, w) = the model's prediction. Activations come from `ws` (call ws.reset()
  /// between calls until its size has settled; later calls allocate nothing).
  void forward(Ctx& ctx, Workspace<B>& ws, const Inputs& in, View<4> out) {
    check_inputs(in.latents, in.timestep, in.guidance, out);
    check(in.text.size(0) == in.latents.size(0) && in.text.size(2) == cfg_.caption_channels, "dit", "text ",
          shape_string(in.text.shape()), " must be (", in.latents.size(0), ", L, ", cfg_.caption_channels, ")");
    const std::int64_t Bn = in.text.size(0), L = in.text.size(1), Ci = cfg_.cross_width();
    check(in.text_mask.empty() || static_cast<std::int64_t>(in.text_mask.size()) == Bn * L, "dit", "text mask has ",
          in.text_mask.size(), " values, expected ", Bn * L);
    auto scope = ws.scope();
    auto y = caption(ctx, ws, in.text);  // (B, L, C)
    std::optional<CView<2>> bias;
    if (!in.text_mask.empty()) {
      auto b = ws.template allocate<T>(Shape<2>{Bn, L});  // (B, L)
      upload_mask_bias(ctx, in.text_mask, b);
      bias = b;
    }
    const auto time = time_in_workspace(ctx, ws, in.timestep, in.guidance);
    run(ctx, ws, in.latents, time, in.pag_perturbed, out, [&](std::size_t i, Workspace<B>& w) {
      auto kv = w.template allocate<T>(Shape<3>{Bn, L, 2 * Ci});  // (B, L, 2Ci)
      text_kv(ctx, blocks_[i], y, kv);
      return std::pair<CView<3>, std::optional<CView<2>>>(kv, bias);
    });
  }

  /// forward() with the text side precomputed by encode_text (the denoising loop's path).
  void forward(Ctx& ctx, Workspace<B>& ws, CView<4> latents, std::span<const float> timestep,
               std::span<const float> guidance, const TextConditioning<B, T>& text, View<4> out,
               std::int64_t pag_perturbed = 0) {
    check_inputs(latents, timestep, guidance, out);
    check(text.batch == latents.size(0) && text.kv.size() == blocks_.size(), "dit", "text conditioning for batch ",
          text.batch, " and ", text.kv.size(), " blocks does not fit batch ", latents.size(0), " and ", blocks_.size(),
          " blocks");
    auto scope = ws.scope();
    forward(ctx, ws, latents, time_in_workspace(ctx, ws, timestep, guidance), text, out, pag_perturbed);
  }

  /// forward() with both sides precomputed: the text by encode_text, the time by embed_time. Uploads
  /// nothing, so a denoising step made of it can be recorded once and replayed (StepGraph).
  void forward(Ctx& ctx, Workspace<B>& ws, CView<4> latents, const TimeConditioning<B, T>& time,
               const TextConditioning<B, T>& text, View<4> out, std::int64_t pag_perturbed = 0) {
    check_io(latents, out);
    check(text.batch == latents.size(0) && text.kv.size() == blocks_.size(), "dit", "text conditioning for batch ",
          text.batch, " and ", text.kv.size(), " blocks does not fit batch ", latents.size(0), " and ", blocks_.size(),
          " blocks");
    std::optional<CView<2>> bias;
    if (text.bias.defined()) bias = text.bias.view();
    run(ctx, ws, latents, time, pag_perturbed, out, [&](std::size_t i, Workspace<B>&) {
      return std::pair<CView<3>, std::optional<CView<2>>>(text.kv[i].view(), bias);
    });
  }

  /// temb (B, C) and t6 (B, 6, C) for one timestep (and guidance, Sprint) value per batch item:
  /// temb = TE_t(sinusoid(t)) [+ TE_g(sinusoid(g))], t6 = linear(silu(temb)). Scratch comes from `ws`.
  void embed_time(Ctx& ctx, Workspace<B>& ws, std::span<const float> timestep, std::span<const float> guidance,
                  View<2> temb, View<3> t6) {
    const std::int64_t Bn = static_cast<std::int64_t>(timestep.size()), C = cfg_.width();
    check(!cfg_.guidance_embeds || static_cast<std::int64_t>(guidance.size()) == Bn, "dit",
          "this model embeds guidance: need ", Bn, " guidance values, got ", guidance.size());
    check(temb.shape() == Shape<2>{Bn, C} && t6.shape() == Shape<3>{Bn, 6, C} && temb.is_contiguous() &&
              t6.is_contiguous(),
          "dit", "time conditioning outputs must be contiguous (", Bn, ", ", C, ") and (", Bn, ", 6, ", C, ")");
    auto s = ws.scope();
    embed_scalar(ctx, ws, timestep, t_lin1_w_, t_lin1_b_, t_lin2_w_, t_lin2_b_, temb);
    if (cfg_.guidance_embeds) {
      auto g = ws.template allocate<T>(Shape<2>{Bn, C});  // (B, C)
      embed_scalar(ctx, ws, guidance, g_lin1_w_, g_lin1_b_, g_lin2_w_, g_lin2_b_, g);
      ops::add(ctx, CView<2>(temb), CView<2>(g), temb);
    }
    auto st = ws.template allocate<T>(Shape<2>{Bn, C});  // (B, C)
    ops::activation(ctx, CView<2>(temb), st, Activation::SiLU);
    ops::linear(ctx, CView<2>(st), t6_w_.view(), t6_b_.view(), t6.template reshape<2>({Bn, 6 * C}));
  }

private:
  /// The time conditioning of one forward, in the workspace (left allocated for the forward to read).
  TimeConditioning<B, T> time_in_workspace(Ctx& ctx, Workspace<B>& ws, std::span<const float> timestep,
                                           std::span<const float> guidance) {
    const std::int64_t Bn = static_cast<std::int64_t>(timestep.size()), C = cfg_.width();
    auto temb = ws.template allocate<T>(Shape<2>{Bn, C});   // (B, C)
    auto t6 = ws.template allocate<T>(Shape<3>{Bn, 6, C});  // (B, 6, C)
    embed_time(ctx, ws, timestep, guidance, temb, t6);
    return {temb, t6};
  }

  void check_inputs(CView<4> latents, std::span<const float> timestep, std::span<const float> guidance, View<4> out) const {
    check_io(latents, out);
    const std::int64_t Bn = latents.size(0);
    check(static_cast<std::int64_t>(timestep.size()) == Bn, "dit", timestep.size(), " timesteps for batch ", Bn);
    check(!cfg_.guidance_embeds || static_cast<std::int64_t>(guidance.size()) == Bn, "dit",
          "this model embeds guidance: need ", Bn, " guidance values, got ", guidance.size());
  }

  void check_io(CView<4> latents, View<4> out) const {
    const std::int64_t Bn = latents.size(0);
    check(latents.size(1) == cfg_.in_channels && latents.is_contiguous(), "dit", "latents ",
          shape_string(latents.shape()), " must be contiguous (B, ", cfg_.in_channels, ", h, w)");
    check(out.shape() == Shape<4>{Bn, cfg_.out_channels, latents.size(2), latents.size(3)} && out.is_contiguous(), "dit",
          "output ", shape_string(out.shape()), " must be contiguous (", Bn, ", ", cfg_.out_channels, ", ",
          latents.size(2), ", ", latents.size(3), ")");
  }

  /// (1 - mask) * -10000 in T, on the backend.
  void upload_mask_bias(Ctx& ctx, std::span<const float> mask, View<2> dst) {
    host_bias_.resize(mask.size());
    for (std::size_t i = 0; i < mask.size(); ++i) host_bias_[i] = convert<T>((1.0f - to_float(convert<T>(mask[i]))) * -10000.0f);
    backend_traits<B>::upload(ctx, dst.data(), host_bias_.data(), host_bias_.size() * sizeof(T));
  }

  /// Y (B, L, C) = RMSNorm(linear_2(gelu_tanh(linear_1(text)))), in the workspace.
  View<3> caption(Ctx& ctx, Workspace<B>& ws, CView<3> text) {
    const std::int64_t Bn = text.size(0), L = text.size(1), C = cfg_.width();
    check(text.size(2) == cfg_.caption_channels, "dit", "text ", shape_string(text.shape()), " must have ",
          cfg_.caption_channels, " channels");
    auto h = ws.template allocate<T>(Shape<3>{Bn, L, C});  // (B, L, C)
    auto y = ws.template allocate<T>(Shape<3>{Bn, L, C});  // (B, L, C)
    ops::linear(ctx, text, cap1_w_.view(), cap1_b_.view(), h, Activation::GELUTanh);
    ops::linear(ctx, CView<3>(h), cap2_w_.view(), cap2_b_.view(), y);
    ops::rms_norm(ctx, CView<3>(y), cap_norm_.view(), y, 1e-5f);
    return y;
  }

  /// kv (B, L, 2Ci) = Y · [Wk | Wv]^T + b, K RMS-normalised with qk_norm.
  void text_kv(Ctx& ctx, Block<B, T>& blk, CView<3> y, View<3> kv) {
    const std::int64_t Ci = cfg_.cross_width();
    ops::linear(ctx, y, blk.attn2_kv_w.view(), blk.attn2_kv_b.view(), kv);
    if (cfg_.qk_norm) {
      auto k = kv.slice(2, 0, Ci);  // (B, L, Ci)
      ops::rms_norm(ctx, CView<3>(k), blk.attn2_norm_k.view(), k, 1e-5f);
    }
  }

  /// temb (B, C) from a host value per batch item through a 256 -> C -> C MLP.
  void embed_scalar(Ctx& ctx, Workspace<B>& ws, std::span<const float> values, const Tensor<T, 2, B>& w1,
                    const Tensor<T, 1, B>& b1, const Tensor<T, 2, B>& w2, const Tensor<T, 1, B>& b2, View<2> out) {
    const std::int64_t Bn = static_cast<std::int64_t>(values.size()), C = cfg_.width();
    host_sin_.resize(static_cast<std::size_t>(Bn * 256));
    host_sin_t_.resize(host_sin_.size());
    for (std::int64_t b = 0; b < Bn; ++b)
      timestep_sinusoid(values[b], std::span<float>(host_sin_.data() + b * 256, 256));
    for (std::size_t i = 0; i < host_sin_.size(); ++i) host_sin_t_[i] = convert<T>(host_sin_[i]);
    auto s = ws.template allocate<T>(Shape<2>{Bn, 256});  // (B, 256)
    backend_traits<B>::upload(ctx, s.data(), host_sin_t_.data(), host_sin_t_.size() * sizeof(T));
    auto h = ws.template allocate<T>(Shape<2>{Bn, C});  // (B, C)
    ops::linear(ctx, CView<2>(s), w1.view(), b1.view(), h, Activation::SiLU);
    ops::linear(ctx, CView<2>(h), w2.view(), b2.view(), out);
  }

  /// The latent grid's positional embedding (1, N, C), cached per (h, w).
  CView<3> pos_embed(Ctx& ctx, std::int64_t h, std::int64_t w) {
    const std::int64_t C = cfg_.width();
    if (!pe_.defined() || pe_h_ != h || pe_w_ != w) {
      std::vector<float> p(static_cast<std::size_t>(h * w * C));
      sincos_pos_embed(h, w, C, cfg_.sample_size / cfg_.patch_size, *cfg_.interpolation_scale, p);
      std::vector<T> pt(p.size());
      for (std::size_t i = 0; i < p.size(); ++i) pt[i] = convert<T>(p[i]);
      pe_ = Tensor<T, 3, B>({1, h * w, C});
      backend_traits<B>::upload(ctx, pe_.data(), pt.data(), pt.size() * sizeof(T));
      pe_h_ = h;
      pe_w_ = w;
    }
    return pe_.view();
  }

  template <class TextFn>
  void run(Ctx& ctx, Workspace<B>& ws, CView<4> latents, const TimeConditioning<B, T>& time,
           std::int64_t pag_perturbed, View<4> out, TextFn&& text_for_block) {
    const std::int64_t Bn = latents.size(0), h = latents.size(2), w = latents.size(3), N = h * w;
    const std::int64_t C = cfg_.width(), Cin = cfg_.in_channels;
    check(pag_perturbed >= 0 && pag_perturbed < Bn, "dit", "PAG perturbed items ", pag_perturbed, " must be in [0, ", Bn,
          ")");
    auto scope = ws.scope();
    // 1. Patch embedding (1x1 conv): NCHW latents read as tokens (B, N, Cin), then a linear layer.
    auto tok = ws.template allocate<T>(Shape<3>{Bn, N, Cin});  // (B, N, Cin)
    ops::copy(ctx, CView<3>(latents.data(), {Bn, N, Cin}, {Cin * N, 1, N}), tok);
    auto x = ws.template allocate<T>(Shape<3>{Bn, N, C});  // (B, N, C) residual stream
    ops::linear(ctx, CView<3>(tok), patch_w_.view(), patch_b_.view(), x);
    if (cfg_.interpolation_scale) ops::add(ctx, CView<3>(x), pos_embed(ctx, h, w), x);

    // 2. Time (and guidance) embedding, computed by the caller (embed_time).
    check(time.temb.shape() == Shape<2>{Bn, C} && time.t6.shape() == Shape<3>{Bn, 6, C}, "dit", "time conditioning ",
          shape_string(time.temb.shape()), " / ", shape_string(time.t6.shape()), " must be (", Bn, ", ", C, ") / (",
          Bn, ", 6, ", C, ")");
    const CView<2> temb = time.temb;
    const CView<3> t6 = time.t6;

    // 3. Blocks.
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      auto s = ws.scope();
      auto [kv, bias] = text_for_block(i, ws);
      block_forward(ctx, ws, i, x, t6, kv, bias, h, w, pag_[i] ? pag_perturbed : 0);
    }

    // 4. Final modulated norm with (shift, scale) = table (2, C) + temb, projection, unpatchify.
    auto mod = ws.template allocate<T>(Shape<3>{Bn, 2, C});  // (B, 2, C)
    ops::add(ctx, CView<3>(out_table_.data(), {1, 2, C}), CView<3>(temb.data(), {Bn, 1, C}, {C, C, 1}), mod);
    ops::layer_norm_modulated(ctx, CView<3>(x), CView<2>(mod.data(), {Bn, C}, {2 * C, 1}),
                              CView<2>(mod.data() + C, {Bn, C}, {2 * C, 1}), x, 1e-6f);
    auto o = ws.template allocate<T>(Shape<3>{Bn, N, cfg_.out_channels});  // (B, N, Cout)
    ops::linear(ctx, CView<3>(x), proj_out_w_.view(), proj_out_b_.view(), o);
    const std::int64_t Co = cfg_.out_channels;
    ops::copy(ctx, CView<3>(o), View<3>(out.data(), {Bn, N, Co}, {Co * N, 1, N}));  // (B, N, Cout) -> (B, Cout, h, w)
  }

  template <class Fn>
  void for_blocks(std::span<const std::int64_t> blocks, Fn&& fn) {
    if (blocks.empty())
      for (auto& e : extensions_) fn(e);
    for (auto i : blocks) {
      check(i >= 0 && i < static_cast<std::int64_t>(extensions_.size()), "dit", "block ", i, " outside [0, ",
            extensions_.size(), ")");
      fn(extensions_[static_cast<std::size_t>(i)]);
    }
  }

  /// One block's scratch views: the modulation rows and two (B, N, C) token buffers.
  struct BlockScratch {
    View<3> mod, z, o;  // (B, 6, C), (B, N, C), (B, N, C)
    CView<2> row(int r) const {  // shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp: (B, C)
      const std::int64_t Bn = mod.size(0), C = mod.size(2);
      return CView<2>(mod.data() + r * C, {Bn, C}, {6 * C, 1});
    }
  };

  void block_forward(Ctx& ctx, Workspace<B>& ws, std::size_t index, View<3> x, CView<3> t6, CView<3> text_kv,
                     std::optional<CView<2>> bias, std::int64_t h, std::int64_t w, std::int64_t perturbed) {
    const std::int64_t Bn = x.size(0), N = x.size(1), C = x.size(2);
    BlockScratch sc{ws.template allocate<T>(Shape<3>{Bn, 6, C}),   // (B, 6, C)
                    ws.template allocate<T>(Shape<3>{Bn, N, C}),   // (B, N, C)
                    ws.template allocate<T>(Shape<3>{Bn, N, C})};  // (B, N, C)
    ops::add(ctx, CView<3>(blocks_[index].scale_shift_table.data(), {1, 6, C}), t6, sc.mod);
    self_attention_layer(ctx, ws, index, x, sc, h, w, perturbed);
    cross_attention_layer(ctx, ws, index, x, sc, text_kv, bias);
    mix_ffn_layer(ctx, ws, index, x, sc, h, w);
    const BlockExtensions<B, T>& ext = extensions_[index];
    if (ext.after_block) ext.after_block(BlockOutputCall<B, T>{ctx, index, x, h, w});
  }

  /// (a) Self-attention over the modulated, normalised tokens (ReLU linear attention unless replaced), gated.
  void self_attention_layer(Ctx& ctx, Workspace<B>& ws, std::size_t index, View<3> x, const BlockScratch& sc,
                            std::int64_t h, std::int64_t w, std::int64_t perturbed) {
    Block<B, T>& blk = blocks_[index];
    const BlockExtensions<B, T>& ext = extensions_[index];
    const std::int64_t Bn = x.size(0), N = x.size(1), C = x.size(2);
    auto s = ws.scope();
    ops::layer_norm_modulated(ctx, CView<3>(x), sc.row(0), sc.row(1), sc.z, static_cast<float>(cfg_.norm_eps));
    auto qkv = ws.template allocate<T>(Shape<3>{Bn, N, 3 * C});  // (B, N, 3C)
    if (blk.attn1_qkv_b.defined())
      ops::linear(ctx, CView<3>(sc.z), blk.attn1_qkv_w.view(), blk.attn1_qkv_b.view(), qkv);
    else
      ops::linear(ctx, CView<3>(sc.z), blk.attn1_qkv_w.view(), qkv);
    auto q = qkv.slice(2, 0, C), k = qkv.slice(2, C, C), v = qkv.slice(2, 2 * C, C);  // (B, N, C) each
    if (cfg_.qk_norm && !(perturbed > 0 && pag_variant_ == PagVariant::diffusers)) {
      ops::rms_norm(ctx, CView<3>(q), blk.attn1_norm_q.view(), q, 1e-5f);
      ops::rms_norm(ctx, CView<3>(k), blk.attn1_norm_k.view(), k, 1e-5f);
    }
    const std::int64_t Bo = Bn - perturbed;  // items with real attention; the rest take PAG's identity branch
    const CView<3> qo = q.slice(0, 0, Bo), ko = k.slice(0, 0, Bo), vo = v.slice(0, 0, Bo);  // (Bo, N, C)
    if (ext.self_attention)
      ext.self_attention(SelfAttentionCall<B, T>{ctx, ws, index, qo, ko, vo, sc.z.slice(0, 0, Bo), cfg_.num_attention_heads, h, w});
    else
      ops::linear_attention(ctx, qo, ko, vo, sc.z.slice(0, 0, Bo), cfg_.num_attention_heads);  // (Bo, N, C)
    ops::linear(ctx, CView<3>(sc.z.slice(0, 0, Bo)), blk.attn1_out_w.view(), blk.attn1_out_b.view(), sc.o.slice(0, 0, Bo));
    if (perturbed > 0)  // identity attention: each token's output is its own value vector
      ops::linear(ctx, CView<3>(v.slice(0, Bo, perturbed)), blk.attn1_out_w.view(), blk.attn1_out_b.view(),
                  sc.o.slice(0, Bo, perturbed));
    if constexpr (std::is_same_v<T, f16>)  // diffusers clips fp16 self-attention outputs (an inf becomes 65504)
      ops::clamp(ctx, CView<3>(sc.o), sc.o, -65504.0f, 65504.0f);
    ops::gated_residual(ctx, x, CView<3>(sc.o), std::optional(sc.row(2)));
  }

  /// (b) Cross-attention of the un-normalised tokens over the text (softmax unless replaced); no gate.
  void cross_attention_layer(Ctx& ctx, Workspace<B>& ws, std::size_t index, View<3> x, const BlockScratch& sc,
                             CView<3> text_kv, std::optional<CView<2>> bias) {
    Block<B, T>& blk = blocks_[index];
    const BlockExtensions<B, T>& ext = extensions_[index];
    const std::int64_t Bn = x.size(0), N = x.size(1), Ci = cfg_.cross_width(), Hc = cfg_.num_cross_attention_heads;
    auto s = ws.scope();
    auto q = ws.template allocate<T>(Shape<3>{Bn, N, Ci});  // (B, N, Ci)
    ops::linear(ctx, CView<3>(x), blk.attn2_q_w.view(), blk.attn2_q_b.view(), q);
    if (cfg_.qk_norm) ops::rms_norm(ctx, CView<3>(q), blk.attn2_norm_q.view(), q, 1e-5f);
    auto a = ws.template allocate<T>(Shape<3>{Bn, N, Ci});  // (B, N, Ci)
    const CView<3> k = text_kv.slice(2, 0, Ci), v = text_kv.slice(2, Ci, Ci);  // (B, L, Ci)
    if (ext.cross_attention)
      ext.cross_attention(CrossAttentionCall<B, T>{ctx, ws, index, CView<3>(q), k, v, bias, a, Hc, ext.cross_probabilities});
    else
      softmax_attention<B, T>(ctx, ws, CView<3>(q), k, v, bias, a, Hc, ext.cross_probabilities);
    ops::linear(ctx, CView<3>(a), blk.attn2_out_w.view(), blk.attn2_out_b.view(), sc.o);
    ops::gated_residual(ctx, x, CView<3>(sc.o), std::nullopt);
  }

  /// (c) Mix-FFN (GLUMBConv) on the (B, h, w, C) token grid, gated.
  void mix_ffn_layer(Ctx& ctx, Workspace<B>& ws, std::size_t index, View<3> x, const BlockScratch& sc, std::int64_t h,
                     std::int64_t w) {
    Block<B, T>& blk = blocks_[index];
    const std::int64_t Bn = x.size(0), N = x.size(1), F = cfg_.ffn_hidden();
    auto s = ws.scope();
    ops::layer_norm_modulated(ctx, CView<3>(x), sc.row(3), sc.row(4), sc.z, static_cast<float>(cfg_.norm_eps));
    auto u = ws.template allocate<T>(Shape<3>{Bn, N, 2 * F});  // (B, N, 2F)
    ops::linear(ctx, CView<3>(sc.z), blk.ff_inverted_w.view(), blk.ff_inverted_b.view(), u, Activation::SiLU);
    auto g = ws.template allocate<T>(Shape<3>{Bn, N, F});  // (B, N, F)
    ops::depthwise_glu(ctx, CView<4>(u.as_image(h, w)), CView<4>(blk.ff_depth_w.view()), CView<1>(blk.ff_depth_b.view()),
                       g.as_image(h, w));  // (B, h, w, F)
    ops::linear(ctx, CView<3>(g), blk.ff_point_w.view(), sc.o);
    ops::gated_residual(ctx, x, CView<3>(sc.o), std::optional(sc.row(5)));
  }

  TransformerConfig cfg_;
  Tensor<T, 2, B> patch_w_;
  Tensor<T, 1, B> patch_b_;
  Tensor<T, 2, B> t_lin1_w_, t_lin2_w_, g_lin1_w_, g_lin2_w_, t6_w_, cap1_w_, cap2_w_, out_table_, proj_out_w_;
  Tensor<T, 1, B> t_lin1_b_, t_lin2_b_, g_lin1_b_, g_lin2_b_, t6_b_, cap1_b_, cap2_b_, cap_norm_, proj_out_b_;
  std::vector<Block<B, T>> blocks_;
  std::vector<bool> pag_;
  std::vector<BlockExtensions<B, T>> extensions_;
  PagVariant pag_variant_ = PagVariant::diffusers;
  Tensor<T, 3, B> pe_;
  std::int64_t pe_h_ = -1, pe_w_ = -1;
  std::vector<float> host_sin_;   // staging, sized on first use
  std::vector<T> host_sin_t_, host_bias_;
};

} // namespace dit
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
