/// @file
/// Tiled decode and encode with diffusers' rules (`AutoencoderDC.tiled_decode` / `tiled_encode`):
/// tiles start on a stride grid, are processed independently, then in raster order each tile is
/// blended in place with the (already blended) tile above over min(blend, both heights) rows and
/// with the tile to its left over min(blend, both widths) columns, cropped to the stride, and the
/// crops are concatenated. Unlike diffusers we keep only what later tiles read: the bottom `blend`
/// rows of the previous row of tiles and the right `blend` columns of the previous tile, so memory
/// is bounded by the tile size (plus one strip across the image), not the image size.
/// The blending loops run on the CPU. On a device backend each tile is decoded on the device and copied
/// to the host, where it is blended into a host output: device memory stays one tile (the point of
/// tiling a 4096² decode), and the host holds the image, which it needs anyway.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "sana/dcae/autoencoder.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dcae {

/// Tile and stride in image pixels, as diffusers' enable_tiling(tile_sample_min_*, tile_sample_stride_*).
struct Tiling {
  std::int64_t tile_h = 512, tile_w = 512, stride_h = 448, stride_w = 448;
};

namespace detail {
/// Blends tiles in raster order and writes their crops; all tensors are host (N, C, *, *) float-like.
template <class T>
class TileBlender {
public:
  TileBlender(TensorView<T, 4, host_space> out, std::int64_t cols, std::int64_t max_tile_h, std::int64_t max_tile_w,
              std::int64_t blend_h, std::int64_t blend_w, T* bottom_mem, T* right_mem)
      : out_(out), cols_(cols), max_w_(max_tile_w), blend_h_(blend_h), blend_w_(blend_w), bottom_(bottom_mem),
        right_(right_mem), bottom_rows_(cols, 0), bottom_cols_(cols, 0) {
    (void)max_tile_h;
  }
  static std::int64_t bottom_elements(std::int64_t n, std::int64_t c, std::int64_t cols, std::int64_t blend_h, std::int64_t max_w) {
    return n * c * cols * blend_h * max_w;
  }
  static std::int64_t right_elements(std::int64_t n, std::int64_t c, std::int64_t max_h, std::int64_t blend_w) {
    return n * c * max_h * blend_w;
  }

  /// Blends tile (i, j) in place, keeps its strips, writes d[:crop_h, :crop_w] at (oy, ox) clipped to the output.
  void add(TensorView<T, 4, host_space> d, std::int64_t i, std::int64_t j, std::int64_t crop_h, std::int64_t crop_w,
           std::int64_t oy, std::int64_t ox) {
    const std::int64_t n = d.size(0), c = d.size(1), h = d.size(2), w = d.size(3);
    if (i > 0) {  // blend_v with the tile above
      const std::int64_t stored = bottom_rows_[j], e = std::min({blend_h_, stored, h});
      check(bottom_cols_[j] == w, "dcae tiling", "tile widths differ within a column");
      for (std::int64_t p = 0; p < n * c; ++p)
        for (std::int64_t y = 0; y < e; ++y) {
          const float wb = static_cast<float>(static_cast<double>(y) / e), wa = static_cast<float>(1.0 - static_cast<double>(y) / e);
          const T* a = bottom_strip(j, p) + (stored - e + y) * w;
          T* b = d.data() + (p * h + y) * w;
          for (std::int64_t x = 0; x < w; ++x) b[x] = convert<T>(to_float(a[x]) * wa + to_float(b[x]) * wb);
        }
    }
    if (j > 0) {  // blend_h with the tile to the left
      const std::int64_t stored = right_cols_, e = std::min({blend_w_, stored, w});
      check(right_rows_ == h, "dcae tiling", "tile heights differ within a row");
      for (std::int64_t p = 0; p < n * c; ++p)
        for (std::int64_t y = 0; y < h; ++y) {
          const T* a = right_ + (p * h + y) * stored;
          T* b = d.data() + (p * h + y) * w;
          for (std::int64_t x = 0; x < e; ++x) {
            const float wb = static_cast<float>(static_cast<double>(x) / e), wa = static_cast<float>(1.0 - static_cast<double>(x) / e);
            b[x] = convert<T>(to_float(a[stored - e + x]) * wa + to_float(b[x]) * wb);
          }
        }
    }
    // Keep what the tile below and the tile to the right will read.
    bottom_rows_[j] = std::min(blend_h_, h);
    bottom_cols_[j] = w;
    for (std::int64_t p = 0; p < n * c; ++p)
      std::copy(d.data() + (p * h + h - bottom_rows_[j]) * w, d.data() + (p * h + h) * w, bottom_strip(j, p));
    right_rows_ = h;
    right_cols_ = std::min(blend_w_, w);
    for (std::int64_t p = 0; p < n * c; ++p)
      for (std::int64_t y = 0; y < h; ++y)
        std::copy(d.data() + (p * h + y) * w + w - right_cols_, d.data() + (p * h + y + 1) * w, right_ + (p * h + y) * right_cols_);
    // Crop, clipped to the output (the encoder's last crop).
    const std::int64_t ch = std::min({crop_h, h, out_.size(2) - oy}), cw = std::min({crop_w, w, out_.size(3) - ox});
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t k = 0; k < c; ++k)
        for (std::int64_t y = 0; y < ch; ++y) {
          const T* src = d.data() + ((b * c + k) * h + y) * w;
          std::copy(src, src + cw, &out_(b, k, oy + y, ox));
        }
  }

private:
  T* bottom_strip(std::int64_t j, std::int64_t plane) const {
    return bottom_ + (j * out_.size(0) * out_.size(1) + plane) * blend_h_ * max_w_;
  }
  TensorView<T, 4, host_space> out_;
  std::int64_t cols_, max_w_, blend_h_, blend_w_;
  T* bottom_;
  T* right_;
  std::vector<std::int64_t> bottom_rows_, bottom_cols_;
  std::int64_t right_rows_ = 0, right_cols_ = 0;
};

inline std::vector<std::int64_t> tile_starts(std::int64_t size, std::int64_t stride) {
  std::vector<std::int64_t> s;
  for (std::int64_t i = 0; i < size; i += stride) s.push_back(i);
  return s;
}

inline void check_tiling(const Tiling& t, std::int64_t f) {
  check(t.tile_h % f == 0 && t.tile_w % f == 0 && t.stride_h % f == 0 && t.stride_w % f == 0 && t.stride_h > 0 &&
            t.stride_w > 0 && t.stride_h <= t.tile_h && t.stride_w <= t.tile_w,
        "dcae tiling", "tile ", t.tile_h, "x", t.tile_w, " and stride ", t.stride_h, "x", t.stride_w,
        " must be multiples of ", f, " with 0 < stride <= tile");
}

/// diffusers' tiled_decode loop over a latent (n, ·, h, w): `decode_tile(i, j, hh, ww)` decodes latent tile
/// [i, i+hh) x [j, j+ww) and returns it as a host view (n, c, hh·f, ww·f); the blender writes `out`.
template <class T, class DecodeTile>
void decode_tiles(std::int64_t h, std::int64_t w, std::int64_t f, const Tiling& t, TileBlender<T>& blender,
                  DecodeTile&& decode_tile) {
  const std::int64_t th = t.tile_h / f, tw = t.tile_w / f, sh = t.stride_h / f, sw = t.stride_w / f;
  const auto rows = tile_starts(h, sh), cols = tile_starts(w, sw);
  std::int64_t oy = 0;
  for (std::size_t ii = 0; ii < rows.size(); ++ii) {
    const std::int64_t i = rows[ii], hh = std::min(th, h - i);
    std::int64_t ox = 0;
    for (std::size_t jj = 0; jj < cols.size(); ++jj) {
      const std::int64_t j = cols[jj], ww = std::min(tw, w - j);
      blender.add(decode_tile(i, j, hh, ww), static_cast<std::int64_t>(ii), static_cast<std::int64_t>(jj), t.stride_h,
                  t.stride_w, oy, ox);
      ox += std::min(t.stride_w, ww * f);
    }
    oy += std::min(t.stride_h, hh * f);
  }
}
} // namespace detail

/// Whether diffusers would tile this latent (it tiles only when a side exceeds the latent tile).
inline bool decode_needs_tiling(const Config& c, const Tiling& t, std::int64_t latent_h, std::int64_t latent_w) {
  const std::int64_t f = c.spatial_compression();
  return latent_h > t.tile_h / f || latent_w > t.tile_w / f;
}

/// Output size of a tiled decode (diffusers concatenates the crops without a final crop).
inline std::int64_t tiled_decode_extent(std::int64_t latent, std::int64_t tile_l, std::int64_t stride_l, std::int64_t f,
                                        std::int64_t stride_px) {
  std::int64_t total = 0;
  for (auto s : detail::tile_starts(latent, stride_l)) total += std::min(stride_px, std::min(tile_l, latent - s) * f);
  return total;
}

/// Workspace bytes a tiled decode of an (n, C, h, w) latent needs.
template <class B, class T>
std::size_t tiled_decode_bytes(const Decoder<B, T>& dec, std::int64_t n, std::int64_t latent_w, const Tiling& t) {
  const std::int64_t f = dec.cfg.spatial_compression(), th = t.tile_h / f, tw = t.tile_w / f;
  const std::int64_t cols = static_cast<std::int64_t>(detail::tile_starts(latent_w, t.stride_w / f).size());
  const std::int64_t c = dec.cfg.in_channels, bh = t.tile_h - t.stride_h, bw = t.tile_w - t.stride_w;
  const std::int64_t elems = scratch_size(n * dec.cfg.latent_channels * th * tw) + scratch_size(n * c * t.tile_h * t.tile_w) +
                             scratch_size(detail::TileBlender<T>::bottom_elements(n, c, cols, bh, t.tile_w)) +
                             scratch_size(detail::TileBlender<T>::right_elements(n, c, t.tile_h, bw));
  return static_cast<std::size_t>(elems) * sizeof(T) + 4 * 256 + dec.plan_bytes(Shape<4>{n, dec.cfg.latent_channels, th, tw});
}

/// diffusers' tiled_decode: out (n, C, tiled_decode_extent(h), tiled_decode_extent(w)) from z (n, latent, h, w).
template <class B, class T>
  requires is_host_backend_v<B>
void tiled_decode(const Decoder<B, T>& dec, context_t<B>& ctx, Workspace<B>& ws,
                  std::type_identity_t<TensorView<const T, 4, host_space>> z,
                  std::type_identity_t<TensorView<T, 4, host_space>> out, const Tiling& t) {
  const std::int64_t f = dec.cfg.spatial_compression();
  detail::check_tiling(t, f);
  const std::int64_t n = z.size(0), lc = z.size(1), h = z.size(2), w = z.size(3), c = dec.cfg.in_channels;
  const std::int64_t th = t.tile_h / f, tw = t.tile_w / f, sh = t.stride_h / f, sw = t.stride_w / f;
  const Shape<4> expect{n, c, tiled_decode_extent(h, th, sh, f, t.stride_h), tiled_decode_extent(w, tw, sw, f, t.stride_w)};
  check(out.shape() == expect, "dcae tiling", "output is ", shape_string(out.shape()), ", expected ", shape_string(expect));
  auto scope = ws.scope();
  T* zin = ws.template allocate<T, 1>(Shape<1>{n * lc * th * tw}).data();
  T* dout = ws.template allocate<T, 1>(Shape<1>{n * c * t.tile_h * t.tile_w}).data();
  const std::int64_t cn = static_cast<std::int64_t>(detail::tile_starts(w, sw).size());
  T* bottom = ws.template allocate<T, 1>(Shape<1>{detail::TileBlender<T>::bottom_elements(n, c, cn, t.tile_h - t.stride_h, t.tile_w)}).data();
  T* right = ws.template allocate<T, 1>(Shape<1>{detail::TileBlender<T>::right_elements(n, c, t.tile_h, t.tile_w - t.stride_w)}).data();
  detail::TileBlender<T> blender(out, cn, t.tile_h, t.tile_w, t.tile_h - t.stride_h, t.tile_w - t.stride_w, bottom, right);
  // One planned region for every tile (the first tile is the largest), so tiles allocate nothing.
  auto plan = ws.template allocate<T, 1>(Shape<1>{dec.plan_elements(Shape<4>{n, lc, std::min(th, h), std::min(tw, w)})});
  detail::decode_tiles(h, w, f, t, blender, [&](std::int64_t i, std::int64_t j, std::int64_t hh, std::int64_t ww) {
    TensorView<T, 4, host_space> tile_in(zin, Shape<4>{n, lc, hh, ww});  // (N, latent, hh, ww)
    ops::copy(ctx, z.slice(2, i, hh).slice(3, j, ww), tile_in);
    TensorView<T, 4, host_space> tile_out(dout, Shape<4>{n, c, hh * f, ww * f});  // (N, C, hh*f, ww*f)
    dec.forward_planned(ctx, plan, tile_in, tile_out);
    return tile_out;
  });
}

/// tiled_decode on a device backend: z on the device, `out` on the host. Each tile is decoded on the device
/// (device memory: one latent tile, one image tile and the decoder's plan, all from `ws`), copied to the host
/// and blended there, exactly as on a host backend.
template <class B, class T>
  requires(!is_host_backend_v<B>)
void tiled_decode(const Decoder<B, T>& dec, context_t<B>& ctx, Workspace<B>& ws,
                  std::type_identity_t<TensorView<const T, 4, space_t<B>>> z,
                  std::type_identity_t<TensorView<T, 4, host_space>> out, const Tiling& t) {
  const std::int64_t f = dec.cfg.spatial_compression();
  detail::check_tiling(t, f);
  const std::int64_t n = z.size(0), lc = z.size(1), h = z.size(2), w = z.size(3), c = dec.cfg.in_channels;
  const std::int64_t th = t.tile_h / f, tw = t.tile_w / f, sh = t.stride_h / f, sw = t.stride_w / f;
  const Shape<4> expect{n, c, tiled_decode_extent(h, th, sh, f, t.stride_h), tiled_decode_extent(w, tw, sw, f, t.stride_w)};
  check(out.shape() == expect, "dcae tiling", "output is ", shape_string(out.shape()), ", expected ", shape_string(expect));
  auto scope = ws.scope();
  T* zin = ws.template allocate<T, 1>(Shape<1>{n * lc * th * tw}).data();
  T* dout = ws.template allocate<T, 1>(Shape<1>{n * c * t.tile_h * t.tile_w}).data();
  auto plan = ws.template allocate<T, 1>(Shape<1>{dec.plan_elements(Shape<4>{n, lc, std::min(th, h), std::min(tw, w)})});
  const std::int64_t cn = static_cast<std::int64_t>(detail::tile_starts(w, sw).size());
  std::vector<T> host_tile(static_cast<std::size_t>(n * c * t.tile_h * t.tile_w));
  std::vector<T> bottom(static_cast<std::size_t>(detail::TileBlender<T>::bottom_elements(n, c, cn, t.tile_h - t.stride_h, t.tile_w)));
  std::vector<T> right(static_cast<std::size_t>(detail::TileBlender<T>::right_elements(n, c, t.tile_h, t.tile_w - t.stride_w)));
  detail::TileBlender<T> blender(out, cn, t.tile_h, t.tile_w, t.tile_h - t.stride_h, t.tile_w - t.stride_w,
                                 bottom.data(), right.data());
  detail::decode_tiles(h, w, f, t, blender, [&](std::int64_t i, std::int64_t j, std::int64_t hh, std::int64_t ww) {
    TensorView<T, 4, space_t<B>> tile_in(zin, Shape<4>{n, lc, hh, ww});  // (N, latent, hh, ww)
    ops::copy(ctx, z.slice(2, i, hh).slice(3, j, ww), tile_in);
    TensorView<T, 4, space_t<B>> tile_out(dout, Shape<4>{n, c, hh * f, ww * f});  // (N, C, hh*f, ww*f)
    dec.forward_planned(ctx, plan, tile_in, tile_out);
    TensorView<T, 4, host_space> host(host_tile.data(), tile_out.shape());
    backend_traits<B>::download(ctx, host.data(), tile_out.data(), static_cast<std::size_t>(host.numel()) * sizeof(T));
    return host;
  });
}

/// diffusers' tiled_encode: out (n, latent, H/f, W/f) from img (n, C, H, W); tiles are zero-padded to multiples of f.
template <class B, class T>
  requires is_host_backend_v<B>
void tiled_encode(const Encoder<B, T>& enc, context_t<B>& ctx, Workspace<B>& ws,
                  std::type_identity_t<TensorView<const T, 4, host_space>> img,
                  std::type_identity_t<TensorView<T, 4, host_space>> out, const Tiling& t) {
  const std::int64_t f = enc.cfg.spatial_compression();
  detail::check_tiling(t, f);
  const std::int64_t n = img.size(0), c = img.size(1), H = img.size(2), W = img.size(3), lc = enc.cfg.latent_channels;
  const Shape<4> expect{n, lc, H / f, W / f};
  check(out.shape() == expect, "dcae tiling", "output is ", shape_string(out.shape()), ", expected ", shape_string(expect));
  const std::int64_t lth = t.tile_h / f, ltw = t.tile_w / f, lsh = t.stride_h / f, lsw = t.stride_w / f;
  const auto rows = detail::tile_starts(H, t.stride_h), cols = detail::tile_starts(W, t.stride_w);
  auto scope = ws.scope();
  T* xin = ws.template allocate<T, 1>(Shape<1>{n * c * t.tile_h * t.tile_w}).data();
  T* lout = ws.template allocate<T, 1>(Shape<1>{n * lc * lth * ltw}).data();
  const std::int64_t cn = static_cast<std::int64_t>(cols.size());
  T* bottom = ws.template allocate<T, 1>(Shape<1>{detail::TileBlender<T>::bottom_elements(n, lc, cn, lth - lsh, ltw)}).data();
  T* right = ws.template allocate<T, 1>(Shape<1>{detail::TileBlender<T>::right_elements(n, lc, lth, ltw - lsw)}).data();
  detail::TileBlender<T> blender(out, cn, lth, ltw, lth - lsh, ltw - lsw, bottom, right);
  const std::int64_t first_h = (std::min(t.tile_h, H) + f - 1) / f * f, first_w = (std::min(t.tile_w, W) + f - 1) / f * f;
  auto plan = ws.template allocate<T, 1>(Shape<1>{enc.plan_elements(Shape<4>{n, c, first_h, first_w})});
  std::int64_t oy = 0;
  for (std::size_t ii = 0; ii < rows.size(); ++ii) {
    const std::int64_t i = rows[ii], hh = std::min(t.tile_h, H - i), ph = (hh + f - 1) / f * f;
    std::int64_t ox = 0, tile_lh = ph / f;
    for (std::size_t jj = 0; jj < cols.size(); ++jj) {
      const std::int64_t j = cols[jj], ww = std::min(t.tile_w, W - j), pw = (ww + f - 1) / f * f;
      TensorView<T, 4, host_space> tile_in(xin, Shape<4>{n, c, ph, pw});  // (N, C, ph, pw), zero padded
      std::fill(xin, xin + tile_in.numel(), T{});
      ops::copy(ctx, img.slice(2, i, hh).slice(3, j, ww), tile_in.slice(2, 0, hh).slice(3, 0, ww));
      TensorView<T, 4, host_space> tile_out(lout, Shape<4>{n, lc, ph / f, pw / f});  // (N, latent, ph/f, pw/f)
      enc.forward_planned(ctx, plan, tile_in, tile_out);
      blender.add(tile_out, static_cast<std::int64_t>(ii), static_cast<std::int64_t>(jj), lsh, lsw, oy, ox);
      ox += std::min(lsw, pw / f);
    }
    oy += std::min(lsh, tile_lh);
  }
}

/// The largest square tile (multiple of 32 px and of the compression factor) whose tiled decode of an
/// n-image batch, latent width latent_w, fits `budget_bytes`; stride = 7/8 of the tile (diffusers' 512/448).
template <class B, class T>
Tiling tiling_for_budget(const Decoder<B, T>& dec, std::int64_t n, std::int64_t latent_w, std::size_t budget_bytes) {
  const std::int64_t f = dec.cfg.spatial_compression(), step = std::max<std::int64_t>(f, 32);
  Tiling best{};
  bool found = false;
  for (std::int64_t tile = step; tile <= 8192; tile += step) {
    Tiling t;
    t.tile_h = t.tile_w = tile;
    t.stride_h = t.stride_w = std::max(f, (tile * 7 / 8) / f * f);
    if (tiled_decode_bytes(dec, n, latent_w, t) > budget_bytes) break;
    best = t;
    found = true;
  }
  check(found, "dcae tiling", "no tile fits a budget of ", budget_bytes, " bytes");
  return best;
}

} // namespace dcae
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
