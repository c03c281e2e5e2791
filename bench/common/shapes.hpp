// Real Sana shapes for the benchmarks (sana-spec §1.1, §2.3, §8).
#pragma once

#include <cstdint>
#include <vector>

namespace sana::bench {

/// Latent tokens at 512², 1024², 2048² (N = (px/32)²).
inline const std::vector<std::int64_t> kTokens = {256, 1024, 4096};
/// Transformer widths: 0.6B and 1.6B.
inline const std::vector<std::int64_t> kWidths = {1152, 2240};

/// One DC-AE decoder 3x3 convolution: channels in/out at a spatial size (batch 1).
struct ConvShape {
  std::int64_t c_in, c_out, hw, k, groups;
};
/// Decoder convolutions at 512² output (latent 16²): conv_in, EViT depthwise 5x5, stage-2/3 ResBlock convs.
inline const std::vector<ConvShape> kDcaeConvs = {
    {32, 1024, 16, 3, 1},     // conv_in
    {3072, 3072, 16, 5, 3072},  // EViT multiscale depthwise 5x5 at C=1024
    {512, 512, 64, 3, 1},     // stage 3/2 ResBlock conv (C=512)
    {256, 256, 128, 3, 1},    // stage 1 ResBlock conv (C=256)
    {128, 128, 256, 3, 1},    // stage 0 ResBlock conv (C=128)
};

} // namespace sana::bench
