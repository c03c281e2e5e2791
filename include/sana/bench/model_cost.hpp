/// @file
/// Multiply-adds of whole DC-AE decodes, walked over a loaded decoder (its convolutions, the EfficientViT blocks'
/// projections and linear-attention cores). The transformer's and Gemma-2's counts, which need only their configs,
/// are in cost.hpp.
#pragma once

#include "sana/core/config.hpp"
#include "sana/core/shape.hpp"
#include "sana/dcae/autoencoder.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace bench {

/// Multiply-adds of one decode of latent z (N, C, h, w) by `d`: every convolution plus the attention core.
template <class B, class T>
double dcae_decoder_macs(const dcae::Decoder<B, T>& d, const Shape<4>& z) {
  auto conv = [](const dcae::Conv2d<B, T>& c, const Shape<4>& out) {
    return double(c.weight.numel()) * double(out[0]) * double(out[2]) * double(out[3]);
  };
  Shape<4> x{z[0], d.cfg.decoder.channels.back(), z[2], z[3]};
  double macs = conv(d.conv_in, x);
  for (std::size_t i = d.blocks.size(); i-- > 0;) {
    if (d.up[i].first) {
      const auto y = d.up[i].second.out_shape(x);
      macs += conv(d.up[i].second.conv, d.up[i].second.interpolate ? y : Shape<4>{x[0], 4 * y[1], x[2], x[3]});
      x = y;
    }
    for (const auto& b : d.blocks[i]) {
      if (b.type == dcae::BlockType::ResBlock) {
        macs += conv(b.res.conv1, x) + conv(b.res.conv2, x);
        continue;
      }
      const auto& v = b.vit;
      const double p = double(x[0]) * double(x[2]) * double(x[3]), c = double(v.channels), hd = double(v.head_dim);
      macs += 3 * c * c * p;  // qkv
      for (std::size_t k = 0; k < v.ms_in.size(); ++k)
        macs += double(v.ms_in[k].weight.numel()) * p + double(v.ms_out[k].weight.numel()) * p;
      macs += double(v.branches()) * double(v.heads) * 2 * (hd + 1) * hd * p;  // linear attention (state + apply)
      macs += double(v.to_out.weight.numel()) * p;
      macs += double(v.conv_inverted.weight.numel() + v.conv_depth.weight.numel() + v.conv_point.weight.numel()) * p;
    }
  }
  macs += d.out_is_up ? 0.0 : conv(d.conv_out, d.out_shape(z));
  return macs;
}

} // namespace bench
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
