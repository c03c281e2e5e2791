/// @file
/// Sana's real shapes for benchmarks (sana-spec §1.1, §2.3, §8): the released transformer configs, latent
/// token counts, the DiT ops' shapes at 512²–2048², and the DC-AE decoder's convolutions.
#pragma once

#include <cstdint>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/dit/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace bench {

/// The released transformers' configs: 0.6B (large = false) or 1.6B (diffusers' defaults).
inline dit::TransformerConfig sana_config(bool large) {
  dit::TransformerConfig c;
  if (!large) {
    c.num_attention_heads = 36;
    c.num_layers = 28;
    c.num_cross_attention_heads = 16;
    c.cross_attention_head_dim = 72;
    c.cross_attention_dim = 1152;
  }
  return c;
}

/// Latent tokens at 512², 1024², 2048² (N = (px/32)²).
inline const std::vector<std::int64_t> kTokens = {256, 1024, 4096};
/// Transformer widths: 0.6B and 1.6B.
inline const std::vector<std::int64_t> kWidths = {1152, 2240};
/// Text tokens the cross-attention sees (max_sequence_length).
inline constexpr std::int64_t kTextTokens = 300;

/// The DiT ops at one resolution for one model, batch 2 (CFG).
struct DitOpShapes {
  std::int64_t batch, tokens, height, width;  ///< the token grid (height · width = tokens)
  std::int64_t channels, heads, head_dim;     ///< self-attention: channels = heads · head_dim
  std::int64_t cross_heads, cross_head_dim, text_tokens;
  std::int64_t ffn_hidden;                    ///< the Mix-FFN's GLU width F (2.5 · channels)
};

inline DitOpShapes dit_op_shapes(bool large, std::int64_t px, std::int64_t batch = 2) {
  const dit::TransformerConfig c = sana_config(large);
  const std::int64_t side = px / 32;
  return {batch, side * side, side, side, c.width(), c.num_attention_heads, c.attention_head_dim,
          c.num_cross_attention_heads, c.cross_attention_head_dim, kTextTokens, c.ffn_hidden()};
}

/// Every (model, resolution) pair at 512², 1024², 2048².
inline std::vector<DitOpShapes> all_dit_op_shapes(std::int64_t batch = 2) {
  std::vector<DitOpShapes> out;
  for (bool large : {false, true})
    for (std::int64_t px : {512, 1024, 2048}) out.push_back(dit_op_shapes(large, px, batch));
  return out;
}

/// One DC-AE decoder 3x3 convolution: channels in/out at a spatial size (batch 1).
struct ConvShape {
  std::int64_t c_in, c_out, hw, k, groups;
};
/// Decoder convolutions at 512² output (latent 16²): conv_in, EViT depthwise 5x5, stage-2/3 ResBlock convs.
inline const std::vector<ConvShape> kDcaeConvs = {
    {32, 1024, 16, 3, 1},       // conv_in
    {3072, 3072, 16, 5, 3072},  // EViT multiscale depthwise 5x5 at C=1024
    {512, 512, 64, 3, 1},       // stage 3/2 ResBlock conv (C=512)
    {256, 256, 128, 3, 1},      // stage 1 ResBlock conv (C=256)
    {128, 128, 256, 3, 1},      // stage 0 ResBlock conv (C=128)
};

} // namespace bench
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
