/// @file
/// Loading a SanaTransformer: a diffusers `transformer/` folder (config.json + single or sharded
/// safetensors, f32/f16/bf16 weights converted to T at load time), or a safetensors export of an
/// original NVlabs `.pth` state dict, renamed as diffusers' convert_sana_to_diffusers.py does
/// (fused attn.qkv and cross_attn.kv_linear split by rows). Missing, unexpected and wrongly shaped
/// tensors are errors naming the file and the tensor.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sana/dit/transformer.hpp"
#include "sana/io/model_folder.hpp"
#include "sana/io/safetensors.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dit {

namespace detail {
/// Writes host data into a parameter view of backend B (a copy for device backends).
template <class B, class T, std::size_t R, class Fill>
void fill_parameter(context_t<B>& ctx, const TensorView<T, R, space_t<B>>& dst, Fill&& fill) {
  if constexpr (is_host_backend_v<B>) {
    fill(TensorView<T, R, host_space>(dst.data(), dst.shape(), dst.strides()));
  } else {
    Tensor<T, R, reference_backend> host(dst.shape());
    fill(host.view());
    check(dst.is_contiguous(), "dit", "parameter views must be contiguous");
    backend_traits<B>::upload(ctx, dst.data(), host.data(), host.bytes());
  }
}

inline bool starts_with(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }
} // namespace detail

/// Where a diffusers key lives in an NVlabs Sana state dict: the original key and, for tensors the
/// converter splits (attn.qkv into 3, cross_attn.kv_linear into 2), which row block of it.
struct OriginalKey {
  std::string name;
  std::int64_t part = 0, parts = 1;
};

/// diffusers key -> original key (spec §6.3, diffusers scripts/convert_sana_to_diffusers.py).
inline OriginalKey original_key(const std::string& key) {
  struct Rule { std::string_view from, to; };
  static constexpr Rule top[] = {
      {"patch_embed.proj.", "x_embedder.proj."},
      {"caption_projection.linear_1.", "y_embedder.y_proj.fc1."},
      {"caption_projection.linear_2.", "y_embedder.y_proj.fc2."},
      {"time_embed.emb.timestep_embedder.linear_1.", "t_embedder.mlp.0."},
      {"time_embed.emb.timestep_embedder.linear_2.", "t_embedder.mlp.2."},
      {"time_embed.timestep_embedder.linear_1.", "t_embedder.mlp.0."},
      {"time_embed.timestep_embedder.linear_2.", "t_embedder.mlp.2."},
      {"time_embed.guidance_embedder.linear_1.", "cfg_embedder.mlp.0."},
      {"time_embed.guidance_embedder.linear_2.", "cfg_embedder.mlp.2."},
      {"time_embed.linear.", "t_block.1."},
      {"caption_norm.weight", "attention_y_norm.weight"},
      {"proj_out.", "final_layer.linear."},
      {"scale_shift_table", "final_layer.scale_shift_table"},
  };
  static constexpr Rule block[] = {
      {"scale_shift_table", "scale_shift_table"},
      {"attn1.norm_q.", "attn.q_norm."},
      {"attn1.norm_k.", "attn.k_norm."},
      {"attn1.to_out.0.", "attn.proj."},
      {"attn2.to_q.", "cross_attn.q_linear."},
      {"attn2.norm_q.", "cross_attn.q_norm."},
      {"attn2.norm_k.", "cross_attn.k_norm."},
      {"attn2.to_out.0.", "cross_attn.proj."},
      {"ff.conv_inverted.", "mlp.inverted_conv.conv."},
      {"ff.conv_depth.", "mlp.depth_conv.conv."},
      {"ff.conv_point.", "mlp.point_conv.conv."},
  };
  const std::string_view bp = "transformer_blocks.";
  if (detail::starts_with(key, bp)) {
    const std::size_t dot = key.find('.', bp.size());
    const std::string idx = key.substr(bp.size(), dot - bp.size()), rest = key.substr(dot + 1);
    const std::string pre = "blocks." + idx + ".";
    const char* qkv[3] = {"attn1.to_q.", "attn1.to_k.", "attn1.to_v."};
    for (int i = 0; i < 3; ++i)
      if (detail::starts_with(rest, qkv[i])) return {pre + "attn.qkv." + rest.substr(11), i, 3};
    if (detail::starts_with(rest, "attn2.to_k.")) return {pre + "cross_attn.kv_linear." + rest.substr(11), 0, 2};
    if (detail::starts_with(rest, "attn2.to_v.")) return {pre + "cross_attn.kv_linear." + rest.substr(11), 1, 2};
    for (const auto& r : block)
      if (detail::starts_with(rest, r.from)) return {pre + std::string(r.to) + rest.substr(r.from.size())};
    fail("dit", "no original name for '", key, "'");
  }
  for (const auto& r : top)
    if (detail::starts_with(key, r.from)) return {std::string(r.to) + key.substr(r.from.size())};
  fail("dit", "no original name for '", key, "'");
}

/// Original keys the diffusers model drops (training-only null caption, stored PE, Sprint's logvar head).
inline bool original_key_dropped(const std::string& key) {
  return key == "y_embedder.y_embedding" || key == "pos_embed" || detail::starts_with(key, "logvar_linear.");
}

/// Loads every parameter from a diffusers folder (keys as in the checkpoint); fails on missing,
/// unexpected or wrongly shaped tensors.
template <class B, class T>
void load_parameters(SanaTransformer<B, T>& model, context_t<B>& ctx, io::ModelFolder& folder) {
  model.visit_parameters([&](const std::string& key, const auto& view) {
    detail::fill_parameter<B>(ctx, view, [&](const auto& host) { folder.load(key, host); });
  });
  folder.expect_all_used();
}

/// Loads every parameter from a safetensors file holding an original NVlabs state dict.
template <class B, class T>
void load_original_parameters(SanaTransformer<B, T>& model, context_t<B>& ctx, const io::SafetensorsFile& file) {
  std::set<std::string> used;
  model.visit_parameters([&](const std::string& key, const auto& view) {
    constexpr std::size_t R = std::remove_cvref_t<decltype(view)>::rank;
    const OriginalKey ok = original_key(key);
    used.insert(ok.name);
    detail::fill_parameter<B>(ctx, view, [&](const auto& host) {
      if (ok.parts == 1) {
        file.load(ok.name, host);
        return;
      }
      // A fused tensor: `parts` row blocks of the view's shape.
      Shape<R> whole = host.shape();
      whole[0] *= ok.parts;
      auto all = file.template load<T, R>(ok.name, whole);
      auto src = all.view().slice(0, ok.part * host.size(0), host.size(0));
      std::copy(src.data(), src.data() + src.numel(), host.data());
    });
  });
  std::vector<std::string> extra;
  for (const auto& e : file.tensors())
    if (!used.count(e.name) && !original_key_dropped(e.name)) extra.push_back(e.name);
  check(extra.empty(), file.name(), extra.size(), " unexpected tensor(s) not used by the model, first '",
        extra.empty() ? std::string() : extra.front(), "'");
}

/// Reads `dir/config.json`, builds the model and loads `dir`'s weights (diffusers keys).
template <class B, class T>
std::unique_ptr<SanaTransformer<B, T>> load_transformer(context_t<B>& ctx, const std::filesystem::path& dir,
                                                        const io::FolderOptions& options = {}) {
  auto folder = io::ModelFolder::open(dir, options);
  auto model = std::make_unique<SanaTransformer<B, T>>(TransformerConfig::from_json(folder.config()));
  load_parameters(*model, ctx, folder);
  return model;
}

} // namespace dit
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
