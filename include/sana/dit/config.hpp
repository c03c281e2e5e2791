/// @file
/// `dit::TransformerConfig`: the runtime shape of a SanaTransformer2DModel, read from a diffusers
/// `transformer/config.json` (keys and defaults as in diffusers' constructor).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/core/machine_memory.hpp"
#include "sana/io/json_file.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dit {

/// Every field a released Sana transformer config uses; model size is data, never a template argument.
struct TransformerConfig {
  std::int64_t in_channels = 32;
  std::int64_t out_channels = 32;
  std::int64_t num_attention_heads = 70;
  std::int64_t attention_head_dim = 32;
  std::int64_t num_layers = 20;
  std::int64_t num_cross_attention_heads = 20;
  std::int64_t cross_attention_head_dim = 112;
  std::int64_t cross_attention_dim = 2240;
  std::int64_t caption_channels = 2304;
  double mlp_ratio = 2.5;
  bool attention_bias = false;
  std::int64_t sample_size = 32;
  std::int64_t patch_size = 1;
  double norm_eps = 1e-6;
  std::optional<double> interpolation_scale;  ///< set: sincos positional embedding (2K/4K)
  bool guidance_embeds = false;               ///< Sana-Sprint
  double guidance_embeds_scale = 0.1;         ///< applied by the pipeline, not the model
  bool qk_norm = false;                       ///< "rms_norm_across_heads" (Sana 1.5, Sprint)
  double timestep_scale = 1.0;                ///< applied by the pipeline, not the model

  std::int64_t width() const { return num_attention_heads * attention_head_dim; }             ///< C
  std::int64_t cross_width() const { return num_cross_attention_heads * cross_attention_head_dim; }
  std::int64_t ffn_hidden() const { return static_cast<std::int64_t>(mlp_ratio * static_cast<double>(width())); }  ///< F

  /// Throws naming `where` when the combination cannot describe a Sana transformer we implement.
  void validate(std::string_view where = "transformer config") const {
    auto positive = [&](std::int64_t v, const char* key) { check(v > 0, where, "'", key, "' must be positive, got ", v); };
    positive(in_channels, "in_channels");
    positive(out_channels, "out_channels");
    positive(num_attention_heads, "num_attention_heads");
    positive(attention_head_dim, "attention_head_dim");
    positive(num_layers, "num_layers");
    positive(num_cross_attention_heads, "num_cross_attention_heads");
    positive(cross_attention_head_dim, "cross_attention_head_dim");
    positive(caption_channels, "caption_channels");
    positive(sample_size, "sample_size");
    check(patch_size == 1, where, "'patch_size' ", patch_size, " is not supported (every released Sana model uses 1)");
    check(cross_attention_dim == width(), where, "'cross_attention_dim' ", cross_attention_dim,
          " must equal num_attention_heads * attention_head_dim = ", width(), " (the caption is projected to that width)");
    check(mlp_ratio > 0 && ffn_hidden() > 0, where, "'mlp_ratio' ", mlp_ratio, " gives no FFN width");
    check(norm_eps > 0, where, "'norm_eps' must be positive");
    check(!interpolation_scale || *interpolation_scale > 0, where, "'interpolation_scale' must be positive");
    check(width() % 4 == 0 || !interpolation_scale, where, "the sincos positional embedding needs a width divisible by 4");
    for (auto [v, key] : {std::pair{in_channels, "in_channels"}, {out_channels, "out_channels"},
                          {num_attention_heads, "num_attention_heads"}, {attention_head_dim, "attention_head_dim"},
                          {num_cross_attention_heads, "num_cross_attention_heads"},
                          {cross_attention_head_dim, "cross_attention_head_dim"}, {caption_channels, "caption_channels"},
                          {sample_size, "sample_size"}, {width(), "num_attention_heads * attention_head_dim"}})
      check_config_size(where, key, v);
    check_config_size(where, "num_layers", num_layers, max_config_layers);
    check(mlp_ratio <= 64, where, "'mlp_ratio' ", mlp_ratio, " is above the limit of 64");
    require_weights_fit(approx_parameters(), where, "the transformer this config describes");
  }

  /// Parameters of the model this config describes, within a few percent (blocks, caption and time embeddings).
  double approx_parameters() const {
    const double c = static_cast<double>(width()), f = static_cast<double>(ffn_hidden());
    const double block = 4 * c * c + 2 * c * static_cast<double>(cross_width()) + 2 * c * c + 3 * c * f + 6 * c;
    return static_cast<double>(num_layers) * block + static_cast<double>(caption_channels) * c + c * c +
           8 * c * c + static_cast<double>(in_channels + out_channels) * c;
  }

  /// Reads a diffusers `config.json`; absent keys take diffusers' defaults.
  static TransformerConfig from_json(const io::JsonConfig& j) {
    j.expect_class({"SanaTransformer2DModel"});
    // diffusers' SanaTransformer2DModel arguments; dropout is inert at inference.
    j.expect_known_keys({"in_channels", "out_channels", "num_attention_heads", "attention_head_dim", "num_layers",
                         "num_cross_attention_heads", "cross_attention_head_dim", "cross_attention_dim",
                         "caption_channels", "mlp_ratio", "dropout", "attention_bias", "sample_size", "patch_size",
                         "norm_elementwise_affine", "norm_eps", "interpolation_scale", "guidance_embeds",
                         "guidance_embeds_scale", "qk_norm", "timestep_scale"},
                        "SanaTransformer2DModel");
    TransformerConfig c;
    c.in_channels = j.get_or<std::int64_t>("in_channels", c.in_channels);
    c.out_channels = j.get_or<std::int64_t>("out_channels", c.in_channels);
    c.num_attention_heads = j.get_or<std::int64_t>("num_attention_heads", c.num_attention_heads);
    c.attention_head_dim = j.get_or<std::int64_t>("attention_head_dim", c.attention_head_dim);
    c.num_layers = j.get_or<std::int64_t>("num_layers", c.num_layers);
    c.num_cross_attention_heads = j.get_or<std::int64_t>("num_cross_attention_heads", c.num_cross_attention_heads);
    c.cross_attention_head_dim = j.get_or<std::int64_t>("cross_attention_head_dim", c.cross_attention_head_dim);
    c.cross_attention_dim = j.get_or<std::int64_t>("cross_attention_dim", c.cross_attention_dim);
    c.caption_channels = j.get_or<std::int64_t>("caption_channels", c.caption_channels);
    c.mlp_ratio = j.get_or<double>("mlp_ratio", c.mlp_ratio);
    c.attention_bias = j.get_or<bool>("attention_bias", c.attention_bias);
    c.sample_size = j.get_or<std::int64_t>("sample_size", c.sample_size);
    c.patch_size = j.get_or<std::int64_t>("patch_size", c.patch_size);
    c.norm_eps = j.get_or<double>("norm_eps", c.norm_eps);
    c.interpolation_scale = j.get_optional<double>("interpolation_scale");
    c.guidance_embeds = j.get_or<bool>("guidance_embeds", c.guidance_embeds);
    c.guidance_embeds_scale = j.get_or<double>("guidance_embeds_scale", c.guidance_embeds_scale);
    c.timestep_scale = j.get_or<double>("timestep_scale", c.timestep_scale);
    check(!j.get_or<bool>("norm_elementwise_affine", false), j.name(),
          "'norm_elementwise_affine' true is not supported (no released Sana model uses it)");
    if (auto qk = j.get_optional<std::string>("qk_norm")) {
      check(*qk == "rms_norm_across_heads", j.name(), "'qk_norm' \"", *qk,
            "\" is not supported (expected null or \"rms_norm_across_heads\")");
      c.qk_norm = true;
    }
    c.validate(j.name());
    return c;
  }
};

} // namespace dit
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
