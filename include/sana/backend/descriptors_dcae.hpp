/// @file
/// Descriptors of the DC-AE op family: channel-wise RMSNorm and eval-mode batch norm on NCHW maps,
/// the multi-scale ReLU linear attention core, nearest x2 upsampling, pixel (un)shuffle with the
/// channel-repeat / channel-average shortcuts, and the GLU gate. Activations are contiguous NCHW, or
/// NHWC in memory when the descriptor's `channels_last` is set (the formulas below index them as NCHW;
/// `p` is the pixel h*W + w).
#pragma once

#include <array>
#include <cstdint>

#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// RMSNorm over the channels of every pixel (diffusers RMSNorm applied with channels moved last):
/// y[n,c,p] = x[n,c,p] * rsqrt(mean_c x[n,:,p]^2 + eps) * weight[c] + bias[c] (+ residual[n,c,p]).
/// Statistics and arithmetic in fp32, one rounding of the result. bias and residual may be null;
/// y may alias x or residual.
struct ChannelRmsNormDesc {
  DType dtype = DType::F32;
  bool channels_last = false;
  std::int64_t n = 0, c = 0, pixels = 0;
  float eps = 1e-5f;
  const void* x = nullptr;
  const void* weight = nullptr;
  const void* bias = nullptr;
  const void* residual = nullptr;
  void* y = nullptr;
};

/// Eval-mode BatchNorm2d: y = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c] (+ residual),
/// fp32 arithmetic; weight / bias / residual may be null; y may alias x or residual.
struct BatchNormDesc {
  DType dtype = DType::F32;
  bool channels_last = false;
  std::int64_t n = 0, c = 0, pixels = 0;
  float eps = 1e-5f;
  const void* x = nullptr;
  const void* mean = nullptr;
  const void* var = nullptr;
  const void* weight = nullptr;
  const void* bias = nullptr;
  const void* residual = nullptr;
  void* y = nullptr;
};

inline constexpr int kMaxAttentionBranches = 4;

/// SanaMultiscaleLinearAttention's core. Branch b (the plain qkv projection, then one per multi-scale
/// kernel) is a (n, 3*heads*head_dim, pixels) map; its group g (of `heads`) holds q, k, v as three
/// consecutive (head_dim, pixels) planes at channels g*3d + {0, d, 2d}. Output group b*heads + g is
/// out[n, (b*heads+g)*d + i, p], i < d. With q' = relu(q), k' = relu(k), all in fp32:
///  - linear (quadratic == false): out[i,p] = (sum_j S[i,j] q'[j,p]) / (sum_j z[j] q'[j,p] + eps),
///    S[i,j] = sum_p v[i,p] k'[j,p], z[j] = sum_p k'[j,p]   (diffusers pads v with a row of ones);
///  - quadratic: A[m,p] = sum_j k'[j,m] q'[j,p], A[m,p] /= (sum_m A[m,p] + eps), out[i,p] = sum_m v[i,m] A[m,p]
///    (diffusers casts A back to the input dtype before the last product; we keep it in fp32).
/// One rounding of the output.
struct MultiscaleAttentionDesc {
  DType dtype = DType::F32;
  bool channels_last = false;
  std::int64_t n = 0, heads = 0, head_dim = 0, pixels = 0;
  int branches = 1;
  bool quadratic = false;
  float eps = 1e-15f;
  std::array<const void*, kMaxAttentionBranches> qkv{};
  void* out = nullptr;
};

/// y (n, c, 2h, 2w) = nearest-neighbour x2 upsampling of x (n, c, h, w).
struct UpsampleNearest2xDesc {
  DType dtype = DType::F32;
  bool channels_last = false;
  std::int64_t n = 0, c = 0, h = 0, w = 0;
  const void* x = nullptr;
  void* y = nullptr;
};

enum class ShuffleDirection : std::uint8_t { ChannelsToSpace, SpaceToChannels };

/// Pixel (un)shuffle fused with DC-AE's channel shortcuts; y = result, or y += result when accumulate.
///  ChannelsToSpace: u = repeat_interleave(x (n, c_in, h, w), repeats, dim=1); result = pixel_shuffle(u, factor):
///    y[n, co, h*f+dy, w*f+dx] = x[n, (co*f*f + dy*f + dx) / repeats, h, w],  c_out = c_in*repeats/(f*f).
///  SpaceToChannels: u = pixel_unshuffle(x (n, c_in, h*f, w*f), factor) (channel c*f*f + dy*f + dx);
///    result = mean of u over consecutive groups of `group` channels, c_out = c_in*f*f/group.
/// factor 1 gives the plain channel repeat / average. h, w are the low-resolution sizes. fp32 arithmetic.
struct PixelShuffleDesc {
  DType dtype = DType::F32;
  bool channels_last = false;
  ShuffleDirection direction = ShuffleDirection::ChannelsToSpace;
  std::int64_t n = 0, c_in = 0, c_out = 0, h = 0, w = 0;
  std::int64_t factor = 2, repeats = 1, group = 1;
  bool accumulate = false;
  const void* x = nullptr;
  void* y = nullptr;
};

/// GLU with SiLU gate over channel halves: y[n, c, p] = x[n, c, p] * silu(x[n, c + channels, p]),
/// x (n, 2*channels, pixels), y (n, channels, pixels). fp32 arithmetic.
struct GluDesc {
  DType dtype = DType::F32;
  bool channels_last = false;
  std::int64_t n = 0, channels = 0, pixels = 0;
  const void* x = nullptr;
  void* y = nullptr;
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
