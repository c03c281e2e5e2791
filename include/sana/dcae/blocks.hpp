/// @file
/// DC-AE building blocks (diffusers `autoencoder_dc.py`): Conv2d, Norm2d (channel RMSNorm or eval
/// BatchNorm), ResBlock, EfficientViTBlock (multi-scale ReLU linear attention + GLUMBConv),
/// DCUpBlock2d and DCDownBlock2d. Activations are (N, C, H, W) views, contiguous NCHW or channels-last
/// as the `Scratch` they come from says (the autoencoder picks the backend's preferred format). Blocks
/// that keep the map size update it in place and take their temporaries from a caller-planned
/// `Scratch`; `scratch_elements` says how much.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sana/core/memory_format.hpp"
#include "sana/core/tensor.hpp"
#include "sana/dcae/config.hpp"
#include "sana/ops.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dcae {

/// Bump allocator over one planned region; offsets stay 64-element aligned for vector loads. 4-D
/// tensors come in the region's memory format.
template <class T, class Space>
class Scratch {
public:
  static constexpr std::int64_t kAlign = 64;
  Scratch(T* base, std::int64_t elements, MemoryFormat format = MemoryFormat::Contiguous)
      : ptr_(base), left_(elements), format_(format) {}
  template <std::size_t R>
  TensorView<T, R, Space> take(const Shape<R>& shape) {
    const std::int64_t n = (checked_numel(shape, "dcae scratch") + kAlign - 1) / kAlign * kAlign;
    check(n <= left_, "dcae scratch", "plan too small: need ", n, " more elements, ", left_, " left for ",
          shape_string(shape));
    TensorView<T, R, Space> v(ptr_, shape);
    if constexpr (R == 4) v = format_view<T, Space>(ptr_, shape, format_);
    ptr_ += n;
    left_ -= n;
    return v;
  }
  std::int64_t left() const { return left_; }
  MemoryFormat format() const { return format_; }

private:
  T* ptr_;
  std::int64_t left_;
  MemoryFormat format_;
};

/// Elements a scratch request of `numel` consumes (alignment included).
inline std::int64_t scratch_size(std::int64_t numel) { return (numel + 63) / 64 * 64; }

inline std::int64_t numel4(const Shape<4>& s) { return s[0] * s[1] * s[2] * s[3]; }

inline Activation to_activation(Act a) { return a == Act::SiLU ? Activation::SiLU : Activation::ReLU; }

template <class B, class T>
using View4 = TensorView<T, 4, space_t<B>>;
template <class B, class T>
using ConstView4 = TensorView<const T, 4, space_t<B>>;

/// nn.Conv2d (square kernel, zero padding).
template <class B, class T>
struct Conv2d {
  Tensor<T, 4, B> weight;  // (O, I/groups, k, k)
  Tensor<T, 1, B> bias;    // (O) or undefined
  std::int64_t stride = 1, pad = 0, groups = 1;

  Conv2d() = default;
  Conv2d(std::int64_t c_in, std::int64_t c_out, std::int64_t k, std::int64_t stride_, std::int64_t pad_, bool has_bias,
         std::int64_t groups_ = 1)
      : weight(Shape<4>{c_out, c_in / groups_, k, k}), stride(stride_), pad(pad_), groups(groups_) {
    if (has_bias) bias = Tensor<T, 1, B>(Shape<1>{c_out});
  }
  std::int64_t out_channels() const { return weight.size(0); }
  Shape<4> out_shape(const Shape<4>& x) const {
    const std::int64_t k = weight.size(2);
    return {x[0], out_channels(), ops::conv_out_size(x[2], k, stride, pad, 1), ops::conv_out_size(x[3], k, stride, pad, 1)};
  }
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    f(prefix + "weight", weight.view());
    if (bias.defined()) f(prefix + "bias", bias.view());
  }
  void forward(context_t<B>& ctx, ConstView4<B, T> x, View4<B, T> y, Activation act = Activation::None) const {
    ops::Conv2dParams p;
    p.stride_h = p.stride_w = stride;
    p.pad_h = p.pad_w = pad;
    p.groups = groups;
    p.act = act;
    if (bias.defined())
      ops::conv2d<context_t<B>, T>(ctx, x, weight.view(), bias.view(), y, p);
    else
      ops::conv2d<context_t<B>, T>(ctx, x, weight.view(), y, p);
  }
};

/// RMSNorm over channels (weight + bias, eps 1e-5) or eval-mode BatchNorm2d; optional fused residual add.
template <class B, class T>
struct Norm2d {
  NormType type = NormType::RmsNorm;
  Tensor<T, 1, B> weight, bias, running_mean, running_var;

  Norm2d() = default;
  Norm2d(NormType t, std::int64_t c) : type(t), weight(Shape<1>{c}), bias(Shape<1>{c}) {
    if (t == NormType::BatchNorm) {
      running_mean = Tensor<T, 1, B>(Shape<1>{c});
      running_var = Tensor<T, 1, B>(Shape<1>{c});
    }
  }
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    f(prefix + "weight", weight.view());
    f(prefix + "bias", bias.view());
    if (type == NormType::BatchNorm) {
      f(prefix + "running_mean", running_mean.view());
      f(prefix + "running_var", running_var.view());
    }
  }
  /// y = norm(x) (+ residual); y may alias x or residual.
  void forward(context_t<B>& ctx, ConstView4<B, T> x, const T* residual, View4<B, T> y) const {
    if (type == NormType::RmsNorm)
      ops::channel_rms_norm<context_t<B>, T>(ctx, x, weight.view(), bias.data(), residual, y, 1e-5f);
    else
      ops::batch_norm_eval<context_t<B>, T>(ctx, x, running_mean.view(), running_var.view(), weight.data(), bias.data(),
                                             residual, y, 1e-5f);
  }
};

/// x += norm(conv2(act(conv1(x)))).
template <class B, class T>
struct ResBlock {
  Conv2d<B, T> conv1, conv2;
  Norm2d<B, T> norm;
  Act act = Act::SiLU;

  ResBlock() = default;
  ResBlock(std::int64_t c, NormType nt, Act a) : conv1(c, c, 3, 1, 1, true), conv2(c, c, 3, 1, 1, false), norm(nt, c), act(a) {}
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    conv1.visit_parameters(prefix + "conv1.", f);
    conv2.visit_parameters(prefix + "conv2.", f);
    norm.visit_parameters(prefix + "norm.", f);
  }
  static std::int64_t scratch_elements(const Shape<4>& x) { return 2 * scratch_size(numel4(x)); }
  void forward(context_t<B>& ctx, View4<B, T> x, Scratch<T, space_t<B>> s) const {
    auto h = s.take(x.shape());  // (N, C, H, W)
    auto g = s.take(x.shape());  // (N, C, H, W)
    conv1.forward(ctx, x, h, to_activation(act));
    conv2.forward(ctx, h, g);
    norm.forward(ctx, g, x.data(), x);  // x = norm(g) + x
  }
};

/// EfficientViTBlock: SanaMultiscaleLinearAttention (residual) then GLUMBConv (residual).
template <class B, class T>
struct EfficientViTBlock {
  std::int64_t channels = 0, head_dim = 32, heads = 0;
  Tensor<T, 4, B> qkv_weight;   // (3C, C, 1, 1): to_q, to_k, to_v stacked
  std::vector<Conv2d<B, T>> ms_in, ms_out;  // per kernel: depthwise k x k (3C), grouped 1x1 (3*heads groups)
  Conv2d<B, T> to_out;          // ((1+S)C -> C, 1x1, no bias), stored as diffusers' Linear weight (C, (1+S)C)
  Norm2d<B, T> norm_out;
  Conv2d<B, T> conv_inverted, conv_depth, conv_point;
  Norm2d<B, T> glu_norm;

  EfficientViTBlock() = default;
  EfficientViTBlock(std::int64_t c, std::int64_t head_dim_, const std::vector<std::int64_t>& kernels, NormType nt)
      : channels(c), head_dim(head_dim_), heads(c / head_dim_), qkv_weight(Shape<4>{3 * c, c, 1, 1}),
        to_out(c * static_cast<std::int64_t>(1 + kernels.size()), c, 1, 1, 0, false), norm_out(nt, c),
        conv_inverted(c, 8 * c, 1, 1, 0, true), conv_depth(8 * c, 8 * c, 3, 1, 1, true, 8 * c),
        conv_point(4 * c, c, 1, 1, 0, false), glu_norm(NormType::RmsNorm, c) {
    check(c % head_dim_ == 0, "dcae", "EfficientViT channels ", c, " are not a multiple of attention_head_dim ", head_dim_);
    for (auto k : kernels) {
      ms_in.emplace_back(3 * c, 3 * c, k, 1, k / 2, false, 3 * c);
      ms_out.emplace_back(3 * c, 3 * c, 1, 1, 0, false, 3 * heads);
    }
  }
  std::int64_t branches() const { return 1 + static_cast<std::int64_t>(ms_in.size()); }

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    const std::int64_t c = channels;
    auto q = qkv_weight.view();
    f(prefix + "attn.to_q.weight", q.slice(0, 0, c).template reshape<2>({c, c}));
    f(prefix + "attn.to_k.weight", q.slice(0, c, c).template reshape<2>({c, c}));
    f(prefix + "attn.to_v.weight", q.slice(0, 2 * c, c).template reshape<2>({c, c}));
    for (std::size_t i = 0; i < ms_in.size(); ++i) {
      const std::string p = prefix + "attn.to_qkv_multiscale." + std::to_string(i) + ".";
      ms_in[i].visit_parameters(p + "proj_in.", f);
      ms_out[i].visit_parameters(p + "proj_out.", f);
    }
    f(prefix + "attn.to_out.weight", to_out.weight.view().template reshape<2>({c, branches() * c}));
    norm_out.visit_parameters(prefix + "attn.norm_out.", f);
    conv_inverted.visit_parameters(prefix + "conv_out.conv_inverted.", f);
    conv_depth.visit_parameters(prefix + "conv_out.conv_depth.", f);
    conv_point.visit_parameters(prefix + "conv_out.conv_point.", f);
    glu_norm.visit_parameters(prefix + "conv_out.norm.", f);
  }

  std::int64_t scratch_elements(const Shape<4>& x) const {
    const std::int64_t m = x[0] * x[2] * x[3], c = channels, s = branches();
    const std::int64_t attn = s * scratch_size(3 * c * m) + scratch_size(3 * c * m) + scratch_size(s * c * m) +
                              scratch_size(c * m);
    const std::int64_t glu = 2 * scratch_size(8 * c * m) + scratch_size(4 * c * m) + scratch_size(c * m);
    return std::max(attn, glu);
  }

  void forward(context_t<B>& ctx, View4<B, T> x, Scratch<T, space_t<B>> scratch) const {
    const std::int64_t n = x.size(0), c = channels, h = x.size(2), w = x.size(3);
    {
      Scratch<T, space_t<B>> s = scratch;
      std::array<ConstView4<B, T>, kMaxAttentionBranches> qkv{};
      auto base = s.take(Shape<4>{n, 3 * c, h, w});  // (N, 3C, H, W)
      ops::conv2d<context_t<B>, T>(ctx, x, qkv_weight.view(), base);
      qkv[0] = base;
      std::array<View4<B, T>, kMaxAttentionBranches> branch_out{};
      for (std::size_t i = 0; i < ms_in.size(); ++i) branch_out[i] = s.take(Shape<4>{n, 3 * c, h, w});  // (N, 3C, H, W)
      auto dw = s.take(Shape<4>{n, 3 * c, h, w});  // (N, 3C, H, W)
      for (std::size_t i = 0; i < ms_in.size(); ++i) {
        ms_in[i].forward(ctx, base, dw);
        ms_out[i].forward(ctx, dw, branch_out[i]);
        qkv[i + 1] = branch_out[i];
      }
      auto att = s.take(Shape<4>{n, branches() * c, h, w});  // (N, (1+S)C, H, W)
      ops::multiscale_attention<context_t<B>, T>(ctx, std::span<const ConstView4<B, T>>(qkv.data(), branches()), att,
                                                 head_dim);
      auto proj = s.take(Shape<4>{n, c, h, w});  // (N, C, H, W)
      to_out.forward(ctx, att, proj);
      norm_out.forward(ctx, proj, x.data(), x);  // x = norm(proj) + x
    }
    {
      Scratch<T, space_t<B>> s = scratch;
      auto inv = s.take(Shape<4>{n, 8 * c, h, w});  // (N, 8C, H, W)
      auto dep = s.take(Shape<4>{n, 8 * c, h, w});  // (N, 8C, H, W)
      auto gated = s.take(Shape<4>{n, 4 * c, h, w});  // (N, 4C, H, W)
      auto point = s.take(Shape<4>{n, c, h, w});  // (N, C, H, W)
      conv_inverted.forward(ctx, x, inv, Activation::SiLU);
      conv_depth.forward(ctx, inv, dep);
      ops::glu_silu<context_t<B>, T>(ctx, dep, gated);
      conv_point.forward(ctx, gated, point);
      glu_norm.forward(ctx, point, x.data(), x);  // x = norm(point) + x
    }
  }
};

/// One block of a stage: a ResBlock or an EfficientViTBlock.
template <class B, class T>
struct StageBlock {
  BlockType type = BlockType::ResBlock;
  ResBlock<B, T> res;
  EfficientViTBlock<B, T> vit;

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    if (type == BlockType::ResBlock)
      res.visit_parameters(prefix, f);
    else
      vit.visit_parameters(prefix, f);
  }
  std::int64_t scratch_elements(const Shape<4>& x) const {
    return type == BlockType::ResBlock ? ResBlock<B, T>::scratch_elements(x) : vit.scratch_elements(x);
  }
  void forward(context_t<B>& ctx, View4<B, T> x, Scratch<T, space_t<B>> s) const {
    if (type == BlockType::ResBlock)
      res.forward(ctx, x, s);
    else
      vit.forward(ctx, x, s);
  }
};

template <class B, class T>
StageBlock<B, T> make_block(BlockType type, std::int64_t c, std::int64_t head_dim, const std::vector<std::int64_t>& ms,
                            NormType nt, Act act) {
  StageBlock<B, T> b;
  b.type = type;
  if (type == BlockType::ResBlock)
    b.res = ResBlock<B, T>(c, nt, act);
  else
    b.vit = EfficientViTBlock<B, T>(c, head_dim, ms, nt);
  return b;
}

/// DCUpBlock2d: y = conv(upsample(x)) [interpolate] or pixel_shuffle(conv(x)) [pixel_shuffle],
/// plus pixel_shuffle(repeat_interleave(x)) when `shortcut`.
template <class B, class T>
struct UpBlock {
  Conv2d<B, T> conv;
  bool interpolate = true, shortcut = true;
  std::int64_t c_in = 0, c_out = 0;

  UpBlock() = default;
  UpBlock(std::int64_t ci, std::int64_t co, bool interp, bool sc)
      : conv(ci, interp ? co : 4 * co, 3, 1, 1, true), interpolate(interp), shortcut(sc), c_in(ci), c_out(co) {
    check(!sc || (4 * co) % ci == 0, "dcae", "up block ", ci, " -> ", co, ": 4*out channels not a multiple of in channels");
  }
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) { conv.visit_parameters(prefix + "conv.", f); }
  Shape<4> out_shape(const Shape<4>& x) const { return {x[0], c_out, 2 * x[2], 2 * x[3]}; }
  std::int64_t scratch_elements(const Shape<4>& x) const {
    return interpolate ? scratch_size(4 * numel4(x)) : scratch_size(4 * c_out * x[0] * x[2] * x[3]);
  }
  /// y must not overlap x or the scratch.
  void forward(context_t<B>& ctx, ConstView4<B, T> x, View4<B, T> y, Scratch<T, space_t<B>> s) const {
    const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    if (interpolate) {
      auto up = s.take(Shape<4>{n, c_in, 2 * h, 2 * w});  // (N, Cin, 2H, 2W)
      ops::upsample_nearest2x<context_t<B>, T>(ctx, x, up);
      conv.forward(ctx, up, y);
    } else {
      auto t = s.take(Shape<4>{n, 4 * c_out, h, w});  // (N, 4Cout, H, W)
      conv.forward(ctx, x, t);
      ops::pixel_shuffle<context_t<B>, T>(ctx, t, y, 2);
    }
    if (shortcut) ops::pixel_shuffle<context_t<B>, T>(ctx, x, y, 2, 4 * c_out / c_in, true);  // y += shuffle(repeat(x))
  }
};

/// DCDownBlock2d: y = conv_stride2(x) [conv] or pixel_unshuffle(conv(x)) [pixel_unshuffle],
/// plus the channel-averaged pixel_unshuffle(x) when `shortcut`.
template <class B, class T>
struct DownBlock {
  Conv2d<B, T> conv;
  bool strided = true, shortcut = true;
  std::int64_t c_in = 0, c_out = 0;

  DownBlock() = default;
  DownBlock(std::int64_t ci, std::int64_t co, bool conv_type, bool sc)
      : conv(ci, conv_type ? co : co / 4, 3, conv_type ? 2 : 1, 1, true), strided(conv_type), shortcut(sc), c_in(ci),
        c_out(co) {
    check(conv_type || co % 4 == 0, "dcae", "pixel_unshuffle down block needs out channels divisible by 4, got ", co);
    check(!sc || (4 * ci) % co == 0, "dcae", "down block ", ci, " -> ", co, ": 4*in channels not a multiple of out channels");
  }
  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) { conv.visit_parameters(prefix + "conv.", f); }
  Shape<4> out_shape(const Shape<4>& x) const { return {x[0], c_out, x[2] / 2, x[3] / 2}; }
  std::int64_t scratch_elements(const Shape<4>& x) const { return strided ? 0 : scratch_size(c_out / 4 * x[0] * x[2] * x[3]); }
  void forward(context_t<B>& ctx, ConstView4<B, T> x, View4<B, T> y, Scratch<T, space_t<B>> s) const {
    check(x.size(2) % 2 == 0 && x.size(3) % 2 == 0, "dcae", "down block input ", shape_string(x.shape()),
          " needs even height and width");
    if (strided) {
      conv.forward(ctx, x, y);
    } else {
      auto t = s.take(Shape<4>{x.size(0), c_out / 4, x.size(2), x.size(3)});  // (N, Cout/4, H, W)
      conv.forward(ctx, x, t);
      ops::pixel_unshuffle<context_t<B>, T>(ctx, t, y, 2);
    }
    if (shortcut) ops::pixel_unshuffle<context_t<B>, T>(ctx, x, y, 2, 4 * c_in / c_out, true);  // y += mean(unshuffle(x))
  }
};

} // namespace dcae
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
