/// @file
/// `dcae::AutoencoderDC<B, T>`: diffusers' AutoencoderDC (the DC-AE of Sana) — encoder, decoder, scaling.
///
/// Memory plan: one forward takes a single region of `plan_elements()` from the Workspace. The hidden
/// state sits at one end of it; a block that changes the map size writes its output at the other end
/// and takes its temporaries from the gap between, then the ends swap; blocks that keep the size
/// update the hidden state in place and take temporaries from the rest. The region is therefore the
/// largest (input + output + temporaries) of any single block, never a sum over the network.
///
/// Memory format: the activations inside are in `format` (the backend's preferred one, channels-last
/// on oneDNN so its convolutions run without reorders); inputs and outputs may be in either format,
/// and are copied at the boundary when they differ from it.
#pragma once

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "sana/core/workspace.hpp"
#include "sana/dcae/blocks.hpp"
#include "sana/dcae/config.hpp"
#include "sana/io/safetensors.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dcae {

namespace detail {
/// The two ends of the planned region: the hidden state lives at `low` or at the high end.
template <class T, class Space>
struct TwoEnds {
  T* base;
  std::int64_t size;
  MemoryFormat format = MemoryFormat::Contiguous;
  TensorView<T, 4, Space> place(bool low, const Shape<4>& shape) const {
    const std::int64_t n = checked_numel(shape, "dcae plan");
    check(n <= size, "dcae plan", "tensor ", shape_string(shape), " does not fit the planned ", size, " elements");
    return format_view<T, Space>(low ? base : base + (size - n), shape, format);
  }
  /// Free space beside a tensor of n elements at one end.
  Scratch<T, Space> beside(bool low, std::int64_t n) const {
    // Keep the gap's start aligned: the high-end tensor may start at any element.
    const std::int64_t start = low ? scratch_size(n) : 0;
    const std::int64_t end = low ? size : size - n;
    return Scratch<T, Space>(base + start, std::max<std::int64_t>(0, end - start), format);
  }
  /// Free space between a tensor of a elements at the low end and b elements at the high end.
  Scratch<T, Space> between(std::int64_t a_low, std::int64_t b_high) const {
    const std::int64_t start = scratch_size(a_low), end = size - b_high;
    check(start <= end, "dcae plan", "input and output overlap in the planned region");
    return Scratch<T, Space>(base + start, end - start, format);
  }
};

/// x itself when it is already in the scratch's format, else a copy of it taken from the scratch.
template <class Ctx, class T, class Space>
TensorView<const T, 4, Space> in_format(Ctx& ctx, TensorView<const T, 4, Space> x, Scratch<T, Space>& s) {
  if (has_format(x, s.format())) return x;
  auto t = s.take(x.shape());  // x's shape in the network's format
  ops::copy(ctx, x, t);
  return t;
}

/// A (N, C, H, W) map as one flat range (dense in either format), for element-wise ops.
template <class T, class Space>
TensorView<T, 1, Space> flat(TensorView<T, 4, Space> x) {
  return TensorView<T, 1, Space>(x.data(), Shape<1>{x.numel()});
}
} // namespace detail

/// The decoder: latents (N, latent_channels, h, w) -> images (N, in_channels, h*f, w*f).
template <class B, class T>
struct Decoder {
  Config cfg;
  Conv2d<B, T> conv_in;
  std::vector<std::pair<bool, UpBlock<B, T>>> up;       // per stage: (present, upsampler)
  std::vector<std::vector<StageBlock<B, T>>> blocks;    // per stage
  Norm2d<B, T> norm_out;
  Conv2d<B, T> conv_out;         // when stage 0 has blocks
  UpBlock<B, T> conv_out_up;     // otherwise (the lite decoder): an up block without shortcut
  bool out_is_up = false;
  MemoryFormat format = preferred_activation_format<B>();  // of the activations inside

  Decoder() = default;
  explicit Decoder(const Config& c) : cfg(c) {
    const auto& d = c.decoder;
    const std::size_t n = d.stages();
    const std::int64_t top = d.channels.back();
    conv_in = Conv2d<B, T>(c.latent_channels, top, 3, 1, 1, true);
    check(!c.decoder_in_shortcut || top % c.latent_channels == 0, "dcae", "decoder in-shortcut: ", top,
          " channels are not a multiple of latent_channels ", c.latent_channels);
    up.resize(n);
    blocks.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (i + 1 < n && d.layers[i] > 0) up[i] = {true, UpBlock<B, T>(d.channels[i + 1], d.channels[i], c.upsample_interpolate, true)};
      for (std::int64_t j = 0; j < d.layers[i]; ++j)
        blocks[i].push_back(make_block<B, T>(d.block_types[i], d.channels[i], c.attention_head_dim, d.multiscales[i],
                                             d.norms[i], d.acts[i]));
    }
    const std::int64_t ch = d.layers[0] > 0 ? d.channels[0] : d.channels[1];
    norm_out = Norm2d<B, T>(NormType::RmsNorm, ch);
    out_is_up = d.layers[0] == 0;
    if (out_is_up)
      conv_out_up = UpBlock<B, T>(ch, c.in_channels, c.upsample_interpolate, false);
    else
      conv_out = Conv2d<B, T>(ch, c.in_channels, 3, 1, 1, true);
  }

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    conv_in.visit_parameters(prefix + "conv_in.", f);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const std::string p = prefix + "up_blocks." + std::to_string(i) + ".";
      std::size_t j = 0;
      if (up[i].first) up[i].second.visit_parameters(p + std::to_string(j++) + ".", f);
      for (auto& b : blocks[i]) b.visit_parameters(p + std::to_string(j++) + ".", f);
    }
    norm_out.visit_parameters(prefix + "norm_out.", f);
    if (out_is_up)
      conv_out_up.visit_parameters(prefix + "conv_out.", f);
    else
      conv_out.visit_parameters(prefix + "conv_out.", f);
  }

  Shape<4> out_shape(const Shape<4>& z) const {
    const std::int64_t f = cfg.spatial_compression();
    return {z[0], cfg.in_channels, z[2] * f, z[3] * f};
  }

  /// Elements of T one forward on a latent of shape z needs from the workspace (the largest block footprint).
  std::int64_t plan_elements(const Shape<4>& z) const {
    Shape<4> x{z[0], cfg.decoder.channels.back(), z[2], z[3]};
    std::int64_t need = scratch_size(numel4(x)) + scratch_size(numel4(z));  // the latent in the network's format
    for (std::size_t i = blocks.size(); i-- > 0;) {
      if (up[i].first) {
        const Shape<4> y = up[i].second.out_shape(x);
        need = std::max(need, scratch_size(numel4(x)) + up[i].second.scratch_elements(x) + numel4(y));
        x = y;
      }
      for (const auto& b : blocks[i]) need = std::max(need, scratch_size(numel4(x)) + b.scratch_elements(x));
    }
    const std::int64_t out = scratch_size(numel4(out_shape(z)));  // the image before its format copy
    need = std::max(need, scratch_size(numel4(x)) + out + (out_is_up ? conv_out_up.scratch_elements(x) : 0));
    return need;
  }
  std::size_t plan_bytes(const Shape<4>& z) const { return static_cast<std::size_t>(plan_elements(z)) * sizeof(T) + 256; }

  /// out (N, in_channels, h*f, w*f) = decoder(z (N, latent_channels, h, w)); temporaries from ws.
  void forward(context_t<B>& ctx, Workspace<B>& ws, ConstView4<B, T> z, View4<B, T> out) const {
    check(z.size(1) == cfg.latent_channels, "dcae decoder", "latent ", shape_string(z.shape()), " must have ",
          cfg.latent_channels, " channels");
    check(out.shape() == out_shape(z.shape()), "dcae decoder", "output is ", shape_string(out.shape()), ", expected ",
          shape_string(out_shape(z.shape())));
    auto scope = ws.scope();
    const std::int64_t total = plan_elements(z.shape());
    forward_planned(ctx, ws.template allocate<T, 1>(Shape<1>{total}), z, out);
  }

  /// forward() in a caller-provided region of at least plan_elements(z.shape()) elements (tiling reuses one).
  void forward_planned(context_t<B>& ctx, TensorView<T, 1, space_t<B>> plan, ConstView4<B, T> z, View4<B, T> out) const {
    check(plan.size(0) >= plan_elements(z.shape()), "dcae decoder", "planned region of ", plan.size(0),
          " elements is smaller than the ", plan_elements(z.shape()), " this latent needs");
    detail::TwoEnds<T, space_t<B>> region{plan.data(), plan.size(0), format};
    bool low = true;
    auto x = region.place(low, conv_in.out_shape(z.shape()));  // (N, C5, h, w)
    {
      auto s = region.beside(low, x.numel());
      const auto zf = detail::in_format(ctx, z, s);  // (N, latent, h, w) in the network's format
      conv_in.forward(ctx, zf, x);
      if (cfg.decoder_in_shortcut) ops::repeat_channels<context_t<B>, T>(ctx, zf, x, true);  // x += repeat_interleave(z)
    }
    for (std::size_t i = blocks.size(); i-- > 0;) {
      if (up[i].first) {
        auto y = region.place(!low, up[i].second.out_shape(x.shape()));  // (N, C_i, 2H, 2W)
        auto s = low ? region.between(x.numel(), y.numel()) : region.between(y.numel(), x.numel());
        up[i].second.forward(ctx, x, y, s);
        x = y;
        low = !low;
      }
      for (const auto& b : blocks[i]) b.forward(ctx, x, region.beside(low, x.numel()));
    }
    norm_out.forward(ctx, x, nullptr, x);
    ops::activation<context_t<B>, T, 1>(ctx, detail::flat(x), detail::flat(x), to_activation(cfg.decoder_conv_act));
    auto s = region.beside(low, x.numel());
    const auto of = has_format(out, format) ? out : s.take(out.shape());  // (N, in_channels, H, W)
    if (out_is_up)
      conv_out_up.forward(ctx, x, of, s);
    else
      conv_out.forward(ctx, x, of);
    if (of.data() != out.data()) ops::copy(ctx, TensorView<const T, 4, space_t<B>>(of), out);
  }
};

/// The encoder: images (N, in_channels, H, W) -> latents (N, latent_channels, H/f, W/f).
template <class B, class T>
struct Encoder {
  Config cfg;
  Conv2d<B, T> conv_in;          // when stage 0 has blocks
  DownBlock<B, T> conv_in_down;  // otherwise: a down block without shortcut
  bool in_is_down = false;
  std::vector<std::vector<StageBlock<B, T>>> blocks;
  std::vector<std::pair<bool, DownBlock<B, T>>> down;
  Conv2d<B, T> conv_out;
  MemoryFormat format = preferred_activation_format<B>();  // of the activations inside

  Encoder() = default;
  explicit Encoder(const Config& c) : cfg(c) {
    const auto& e = c.encoder;
    const std::size_t n = e.stages();
    in_is_down = e.layers[0] == 0;
    if (in_is_down)
      conv_in_down = DownBlock<B, T>(c.in_channels, e.channels[1], c.downsample_conv, false);
    else
      conv_in = Conv2d<B, T>(c.in_channels, e.channels[0], 3, 1, 1, true);
    blocks.resize(n);
    down.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < e.layers[i]; ++j)
        blocks[i].push_back(make_block<B, T>(e.block_types[i], e.channels[i], c.attention_head_dim, e.multiscales[i],
                                             NormType::RmsNorm, Act::SiLU));
      if (i + 1 < n && e.layers[i] > 0) down[i] = {true, DownBlock<B, T>(e.channels[i], e.channels[i + 1], c.downsample_conv, true)};
    }
    conv_out = Conv2d<B, T>(e.channels.back(), c.latent_channels, 3, 1, 1, true);
    check(!c.encoder_out_shortcut || e.channels.back() % c.latent_channels == 0, "dcae", "encoder out-shortcut: ",
          e.channels.back(), " channels are not a multiple of latent_channels ", c.latent_channels);
  }

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    if (in_is_down)
      conv_in_down.visit_parameters(prefix + "conv_in.", f);
    else
      conv_in.visit_parameters(prefix + "conv_in.", f);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const std::string p = prefix + "down_blocks." + std::to_string(i) + ".";
      std::size_t j = 0;
      for (auto& b : blocks[i]) b.visit_parameters(p + std::to_string(j++) + ".", f);
      if (down[i].first) down[i].second.visit_parameters(p + std::to_string(j) + ".", f);
    }
    conv_out.visit_parameters(prefix + "conv_out.", f);
  }

  Shape<4> out_shape(const Shape<4>& x) const {
    const std::int64_t f = cfg.spatial_compression();
    return {x[0], cfg.latent_channels, x[2] / f, x[3] / f};
  }
  Shape<4> first_shape(const Shape<4>& x) const {
    return in_is_down ? conv_in_down.out_shape(x) : conv_in.out_shape(x);
  }

  std::int64_t plan_elements(const Shape<4>& img) const {
    Shape<4> x = first_shape(img);
    // The image in the network's format, beside the first map.
    std::int64_t need = scratch_size(numel4(x)) + scratch_size(numel4(img)) + (in_is_down ? conv_in_down.scratch_elements(img) : 0);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      for (const auto& b : blocks[i]) need = std::max(need, scratch_size(numel4(x)) + b.scratch_elements(x));
      if (down[i].first) {
        const Shape<4> y = down[i].second.out_shape(x);
        need = std::max(need, scratch_size(numel4(x)) + down[i].second.scratch_elements(x) + numel4(y));
        x = y;
      }
    }
    return std::max(need, scratch_size(numel4(x)) + scratch_size(numel4(out_shape(img))));  // latent before its copy
  }
  std::size_t plan_bytes(const Shape<4>& img) const { return static_cast<std::size_t>(plan_elements(img)) * sizeof(T) + 256; }

  void forward(context_t<B>& ctx, Workspace<B>& ws, ConstView4<B, T> img, View4<B, T> out) const {
    const std::int64_t f = cfg.spatial_compression();
    check(img.size(1) == cfg.in_channels && img.size(2) % f == 0 && img.size(3) % f == 0, "dcae encoder", "image ",
          shape_string(img.shape()), " must have ", cfg.in_channels, " channels and sides divisible by ", f);
    check(out.shape() == out_shape(img.shape()), "dcae encoder", "output is ", shape_string(out.shape()), ", expected ",
          shape_string(out_shape(img.shape())));
    auto scope = ws.scope();
    const std::int64_t total = plan_elements(img.shape());
    forward_planned(ctx, ws.template allocate<T, 1>(Shape<1>{total}), img, out);
  }

  /// forward() in a caller-provided region of at least plan_elements(img.shape()) elements.
  void forward_planned(context_t<B>& ctx, TensorView<T, 1, space_t<B>> plan, ConstView4<B, T> img, View4<B, T> out) const {
    check(plan.size(0) >= plan_elements(img.shape()), "dcae encoder", "planned region of ", plan.size(0),
          " elements is smaller than the ", plan_elements(img.shape()), " this image needs");
    detail::TwoEnds<T, space_t<B>> region{plan.data(), plan.size(0), format};
    bool low = true;
    auto x = region.place(low, first_shape(img.shape()));  // (N, C0, H, W)
    {
      auto s = region.beside(low, x.numel());
      const auto imgf = detail::in_format(ctx, img, s);  // (N, in_channels, H, W) in the network's format
      if (in_is_down)
        conv_in_down.forward(ctx, imgf, x, s);
      else
        conv_in.forward(ctx, imgf, x);
    }
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      for (const auto& b : blocks[i]) b.forward(ctx, x, region.beside(low, x.numel()));
      if (down[i].first) {
        auto y = region.place(!low, down[i].second.out_shape(x.shape()));  // (N, C_{i+1}, H/2, W/2)
        auto s = low ? region.between(x.numel(), y.numel()) : region.between(y.numel(), x.numel());
        down[i].second.forward(ctx, x, y, s);
        x = y;
        low = !low;
      }
    }
    auto s = region.beside(low, x.numel());
    const auto of = has_format(out, format) ? out : s.take(out.shape());  // (N, latent, H/f, W/f)
    conv_out.forward(ctx, x, of);
    if (cfg.encoder_out_shortcut) ops::average_channels<context_t<B>, T>(ctx, x, of, true);  // out += group mean of x
    if (of.data() != out.data()) ops::copy(ctx, TensorView<const T, 4, space_t<B>>(of), out);
  }
};

/// Which halves of the autoencoder to build and load.
struct Parts {
  bool encoder = true, decoder = true;
};

template <class B, class T>
struct AutoencoderDC {
  Config config;
  Parts parts;
  Encoder<B, T> encoder;
  Decoder<B, T> decoder;

  AutoencoderDC() = default;
  explicit AutoencoderDC(const Config& c, Parts p = {}) : config(c), parts(p) {
    if (p.encoder) encoder = Encoder<B, T>(c);
    if (p.decoder) decoder = Decoder<B, T>(c);
  }

  template <class F>
  void visit_parameters(F&& f) {
    if (parts.encoder) encoder.visit_parameters("encoder.", f);
    if (parts.decoder) decoder.visit_parameters("decoder.", f);
  }
  std::int64_t parameter_count() {
    std::int64_t n = 0;
    visit_parameters([&](const std::string&, auto v) { n += v.numel(); });
    return n;
  }

  /// Loads every parameter from a diffusers safetensors file (converting dtypes), rejecting missing,
  /// wrongly shaped and unexpected tensors (those of a part not built, and BatchNorm's counters, are skipped).
  void load(context_t<B>& ctx, const io::SafetensorsFile& file) {
    std::set<std::string, std::less<>> used;
    visit_parameters([&](const std::string& name, auto v) {
      using V = decltype(v);
      constexpr std::size_t R = V::rank;
      auto host = file.template load<T, R>(name, v.shape());
      backend_traits<B>::upload(ctx, v.data(), host.data(), host.bytes());
      used.insert(name);
    });
    for (const auto& e : file.tensors()) {
      const std::string_view name = e.name;
      if (used.count(name) || name.ends_with("num_batches_tracked")) continue;
      if (!parts.encoder && name.starts_with("encoder.")) continue;
      if (!parts.decoder && name.starts_with("decoder.")) continue;
      fail(file.name(), "unexpected tensor '", name, "' for this AutoencoderDC config");
    }
  }
  /// Loads `model.safetensors` (or `diffusion_pytorch_model.safetensors`) from a folder with a config.json.
  static AutoencoderDC from_folder(context_t<B>& ctx, const std::filesystem::path& dir, Parts p = {}) {
    AutoencoderDC m(Config::load(dir / "config.json"), p);
    std::filesystem::path w = dir / "diffusion_pytorch_model.safetensors";
    if (!std::filesystem::exists(w)) w = dir / "model.safetensors";
    m.load(ctx, io::SafetensorsFile::open(w));
    return m;
  }

  /// Decodes raw latents (already divided by scaling_factor, as diffusers' decode expects).
  void decode(context_t<B>& ctx, Workspace<B>& ws, ConstView4<B, T> z, View4<B, T> out) const {
    check(parts.decoder, "dcae", "decode() on a model built without its decoder");
    decoder.forward(ctx, ws, z, out);
  }
  void encode(context_t<B>& ctx, Workspace<B>& ws, ConstView4<B, T> img, View4<B, T> out) const {
    check(parts.encoder, "dcae", "encode() on a model built without its encoder");
    encoder.forward(ctx, ws, img, out);
  }
};

} // namespace dcae
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
