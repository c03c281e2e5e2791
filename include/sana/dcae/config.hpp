/// @file
/// `dcae::Config`: the runtime configuration of an `AutoencoderDC`, parsed from diffusers' `vae/config.json`.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sana/core/error.hpp"
#include "sana/core/machine_memory.hpp"
#include "sana/io/json_file.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dcae {

enum class BlockType : std::uint8_t { ResBlock, EfficientViT };
enum class NormType : std::uint8_t { RmsNorm, BatchNorm };
enum class Act : std::uint8_t { SiLU, ReLU };

/// One side (encoder or decoder) of the autoencoder; vectors are indexed by stage (0 = full resolution).
struct StageConfig {
  std::vector<std::int64_t> channels;           ///< block_out_channels
  std::vector<std::int64_t> layers;             ///< layers_per_block
  std::vector<BlockType> block_types;
  std::vector<std::vector<std::int64_t>> multiscales;  ///< qkv_multiscales (kernel sizes per stage)
  std::vector<NormType> norms;                  ///< decoder_norm_types (encoder: RMSNorm everywhere)
  std::vector<Act> acts;                        ///< decoder_act_fns (encoder: SiLU everywhere)
  std::size_t stages() const { return channels.size(); }
};

struct Config {
  std::int64_t in_channels = 3;
  std::int64_t latent_channels = 32;
  std::int64_t attention_head_dim = 32;
  StageConfig encoder, decoder;
  bool upsample_interpolate = false;     ///< upsample_block_type "interpolate" (else "pixel_shuffle")
  bool downsample_conv = false;          ///< downsample_block_type "conv" (else "pixel_unshuffle")
  bool encoder_out_shortcut = true;
  bool decoder_in_shortcut = true;
  Act decoder_conv_act = Act::ReLU;
  double scaling_factor = 1.0;

  /// Output pixels per latent pixel along each axis (2^(stages-1)).
  std::int64_t spatial_compression() const { return std::int64_t{1} << (encoder.stages() - 1); }

  static Config from_json(const io::JsonConfig& j);
  static Config load(const std::filesystem::path& path) { return from_json(io::JsonConfig::load(path)); }
  /// The Sana DC-AE f32c32 (1.0 and 1.1 share it), as in mit-han-lab/dc-ae-f32c32-sana-1.x-diffusers.
  static Config sana_f32c32();
};

namespace detail {
inline BlockType parse_block(const std::string& s, const std::string& where) {
  if (s == "ResBlock") return BlockType::ResBlock;
  if (s == "EfficientViTBlock") return BlockType::EfficientViT;
  fail(where, "block type '", s, "' is not supported (ResBlock, EfficientViTBlock)");
}
inline NormType parse_norm(const std::string& s, const std::string& where) {
  if (s == "rms_norm") return NormType::RmsNorm;
  if (s == "batch_norm") return NormType::BatchNorm;
  fail(where, "norm type '", s, "' is not supported (rms_norm, batch_norm)");
}
inline Act parse_act(const std::string& s, const std::string& where) {
  if (s == "silu" || s == "swish") return Act::SiLU;
  if (s == "relu") return Act::ReLU;
  fail(where, "activation '", s, "' is not supported (silu, relu)");
}

/// A key that diffusers accepts either as one string (same for every stage) or as a per-stage list.
template <class E, class Parse>
std::vector<E> per_stage(const io::JsonConfig& j, const char* key, const std::string& fallback, std::size_t stages,
                         Parse parse) {
  std::vector<std::string> names;
  if (!j.contains(key) || j.json().at(key).is_null()) {
    names.assign(stages, fallback);
  } else if (j.json().at(key).is_string()) {
    names.assign(stages, j.get<std::string>(key));
  } else {
    names = j.get<std::vector<std::string>>(key);
  }
  check(names.size() == stages, j.name(), "'", key, "' has ", names.size(), " entries for ", stages, " stages");
  std::vector<E> out;
  for (const auto& n : names) out.push_back(parse(n, j.name() + " '" + key + "'"));
  return out;
}

inline StageConfig parse_side(const io::JsonConfig& j, const char* side, bool decoder) {
  StageConfig s;
  const std::string p = side;
  s.channels = j.get_or<std::vector<std::int64_t>>(p + "_block_out_channels", {128, 256, 512, 512, 1024, 1024});
  const std::size_t n = s.channels.size();
  check(n >= 1, j.name(), "'", p, "_block_out_channels' is empty");
  s.layers = j.get_or<std::vector<std::int64_t>>(p + "_layers_per_block",
                                                 decoder ? std::vector<std::int64_t>{3, 3, 3, 3, 3, 3}
                                                         : std::vector<std::int64_t>{2, 2, 2, 3, 3, 3});
  s.multiscales = j.get_or<std::vector<std::vector<std::int64_t>>>(p + "_qkv_multiscales", {{}, {}, {}, {5}, {5}, {5}});
  s.block_types = per_stage<BlockType>(j, (p + "_block_types").c_str(), "ResBlock", n, parse_block);
  if (decoder) {
    s.norms = per_stage<NormType>(j, "decoder_norm_types", "rms_norm", n, parse_norm);
    s.acts = per_stage<Act>(j, "decoder_act_fns", "silu", n, parse_act);
  } else {
    s.norms.assign(n, NormType::RmsNorm);
    s.acts.assign(n, Act::SiLU);
  }
  check(s.layers.size() == n && s.multiscales.size() == n, j.name(), "'", p, "_layers_per_block' (", s.layers.size(),
        ") and '", p, "_qkv_multiscales' (", s.multiscales.size(), ") must have one entry per stage (", n, ")");
  for (std::size_t i = 0; i < n; ++i) {
    check(s.channels[i] >= 1 && s.layers[i] >= 0, j.name(), "stage ", i, " of the ", p, " has channels ", s.channels[i],
          " and layers ", s.layers[i]);
    check(s.multiscales[i].size() + 1 <= 4, j.name(), "stage ", i, " of the ", p, " has more than 3 multi-scale kernels");
    for (auto k : s.multiscales[i]) check(k >= 1 && k % 2 == 1, j.name(), "multi-scale kernel size ", k, " must be odd");
  }
  check(s.layers[0] > 0 || n >= 2, j.name(), "the ", p, " needs blocks in stage 0 or a second stage");
  check(n <= 16, j.name(), "'", p, "_block_out_channels' has ", n, " stages, above the limit of 16");
  double params = 0;  // ResBlocks (two 3x3 convs), attention blocks and the stage's resampling conv, roughly
  for (std::size_t i = 0; i < n; ++i) {
    check_config_size(j.name(), p + "_block_out_channels[" + std::to_string(i) + "]", s.channels[i]);
    check_config_size(j.name(), p + "_layers_per_block[" + std::to_string(i) + "]", s.layers[i], max_config_layers);
    const double c = static_cast<double>(s.channels[i]);
    params += static_cast<double>(s.layers[i] + 1) * 18.0 * c * c;
  }
  require_weights_fit(params, j.name(), "the " + p + " this config describes");
  return s;
}
} // namespace detail

inline Config Config::from_json(const io::JsonConfig& j) {
  Config c;
  c.in_channels = j.get_or<std::int64_t>("in_channels", 3);
  c.latent_channels = j.get_or<std::int64_t>("latent_channels", 32);
  c.attention_head_dim = j.get_or<std::int64_t>("attention_head_dim", 32);
  j.expect_class({"AutoencoderDC"});
  j.expect_known_keys({"in_channels", "latent_channels", "attention_head_dim", "encoder_block_types",
                       "decoder_block_types", "encoder_block_out_channels", "decoder_block_out_channels",
                       "encoder_layers_per_block", "decoder_layers_per_block", "encoder_qkv_multiscales",
                       "decoder_qkv_multiscales", "upsample_block_type", "downsample_block_type", "decoder_norm_types",
                       "decoder_act_fns", "encoder_out_shortcut", "decoder_in_shortcut", "decoder_conv_act_fn",
                       "scaling_factor"},
                      "AutoencoderDC");
  c.encoder = detail::parse_side(j, "encoder", false);
  c.decoder = detail::parse_side(j, "decoder", true);
  const auto up = j.get_or<std::string>("upsample_block_type", "pixel_shuffle");
  const auto down = j.get_or<std::string>("downsample_block_type", "pixel_unshuffle");
  check(up == "interpolate" || up == "pixel_shuffle", j.name(), "upsample_block_type '", up,
        "' is not supported (interpolate, pixel_shuffle)");
  check(down == "conv" || down == "Conv" || down == "pixel_unshuffle", j.name(), "downsample_block_type '", down,
        "' is not supported (conv, pixel_unshuffle)");
  c.upsample_interpolate = up == "interpolate";
  c.downsample_conv = down != "pixel_unshuffle";
  c.encoder_out_shortcut = j.get_or<bool>("encoder_out_shortcut", true);
  c.decoder_in_shortcut = j.get_or<bool>("decoder_in_shortcut", true);
  c.decoder_conv_act = detail::parse_act(j.get_or<std::string>("decoder_conv_act_fn", "relu"), j.name());
  c.scaling_factor = j.get_or<double>("scaling_factor", 1.0);
  check(std::isfinite(c.scaling_factor) && c.scaling_factor > 0, j.name(), "scaling_factor must be a positive number, got ",
        c.scaling_factor);
  check(c.in_channels >= 1 && c.latent_channels >= 1 && c.attention_head_dim >= 1, j.name(),
        "in_channels, latent_channels and attention_head_dim must be positive");
  check(c.encoder.stages() == c.decoder.stages(), j.name(), "encoder and decoder have different stage counts (",
        c.encoder.stages(), " vs ", c.decoder.stages(), ")");
  return c;
}

inline Config Config::sana_f32c32() {
  return from_json(io::JsonConfig::parse(R"({
    "in_channels": 3, "latent_channels": 32, "attention_head_dim": 32,
    "encoder_block_types": ["ResBlock", "ResBlock", "ResBlock", "EfficientViTBlock", "EfficientViTBlock", "EfficientViTBlock"],
    "decoder_block_types": ["ResBlock", "ResBlock", "ResBlock", "EfficientViTBlock", "EfficientViTBlock", "EfficientViTBlock"],
    "encoder_block_out_channels": [128, 256, 512, 512, 1024, 1024], "decoder_block_out_channels": [128, 256, 512, 512, 1024, 1024],
    "encoder_layers_per_block": [2, 2, 2, 3, 3, 3], "decoder_layers_per_block": [3, 3, 3, 3, 3, 3],
    "encoder_qkv_multiscales": [[], [], [], [5], [5], [5]], "decoder_qkv_multiscales": [[], [], [], [5], [5], [5]],
    "upsample_block_type": "interpolate", "downsample_block_type": "Conv",
    "decoder_norm_types": "rms_norm", "decoder_act_fns": "silu", "decoder_conv_act_fn": "relu",
    "encoder_out_shortcut": true, "decoder_in_shortcut": true, "scaling_factor": 0.41407})",
                                         "dc-ae-f32c32-sana config"));
}

} // namespace dcae
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
