/// @file
/// Resolution binning as SanaPipeline does it: the aspect-ratio tables of the model's native
/// resolution (transformer sample_size × 32 for the real DC-AE), the closest-ratio choice, and the
/// resize-and-crop back to the requested size (bilinear, align_corners=False, no antialias).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>

#include "sana/core/error.hpp"
#include "sana/core/tensor_view.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

/// One bin: the key (H/W ratio as diffusers writes it) and the [height, width] it maps to.
struct AspectBin {
  double ratio;
  std::int64_t height, width;
};

// diffusers ASPECT_RATIO_{512,1024,2048,4096}_BIN (1024 = 2 × 512 and 4096 = 2 × 2048, as in diffusers).
inline constexpr AspectBin kAspectBins512[] = {
    {0.25, 256, 1024}, {0.28, 256, 928}, {0.32, 288, 896}, {0.33, 288, 864}, {0.35, 288, 832},
    {0.4, 320, 800}, {0.42, 320, 768}, {0.48, 352, 736}, {0.5, 352, 704}, {0.52, 352, 672},
    {0.57, 384, 672}, {0.6, 384, 640}, {0.68, 416, 608}, {0.72, 416, 576}, {0.78, 448, 576},
    {0.82, 448, 544}, {0.88, 480, 544}, {0.94, 480, 512}, {1.0, 512, 512}, {1.07, 512, 480},
    {1.13, 544, 480}, {1.21, 544, 448}, {1.29, 576, 448}, {1.38, 576, 416}, {1.46, 608, 416},
    {1.67, 640, 384}, {1.75, 672, 384}, {2.0, 704, 352}, {2.09, 736, 352}, {2.4, 768, 320},
    {2.5, 800, 320}, {3.0, 864, 288}, {4.0, 1024, 256},
};
inline constexpr AspectBin kAspectBins1024[] = {
    {0.25, 512, 2048}, {0.28, 512, 1856}, {0.32, 576, 1792}, {0.33, 576, 1728}, {0.35, 576, 1664},
    {0.4, 640, 1600}, {0.42, 640, 1536}, {0.48, 704, 1472}, {0.5, 704, 1408}, {0.52, 704, 1344},
    {0.57, 768, 1344}, {0.6, 768, 1280}, {0.68, 832, 1216}, {0.72, 832, 1152}, {0.78, 896, 1152},
    {0.82, 896, 1088}, {0.88, 960, 1088}, {0.94, 960, 1024}, {1.0, 1024, 1024}, {1.07, 1024, 960},
    {1.13, 1088, 960}, {1.21, 1088, 896}, {1.29, 1152, 896}, {1.38, 1152, 832}, {1.46, 1216, 832},
    {1.67, 1280, 768}, {1.75, 1344, 768}, {2.0, 1408, 704}, {2.09, 1472, 704}, {2.4, 1536, 640},
    {2.5, 1600, 640}, {3.0, 1728, 576}, {4.0, 2048, 512},
};
inline constexpr AspectBin kAspectBins2048[] = {
    {0.25, 1024, 4096}, {0.26, 1024, 3968}, {0.27, 1024, 3840}, {0.28, 1024, 3712}, {0.32, 1152, 3584},
    {0.33, 1152, 3456}, {0.35, 1152, 3328}, {0.4, 1280, 3200}, {0.42, 1280, 3072}, {0.48, 1408, 2944},
    {0.5, 1408, 2816}, {0.52, 1408, 2688}, {0.57, 1536, 2688}, {0.6, 1536, 2560}, {0.68, 1664, 2432},
    {0.72, 1664, 2304}, {0.78, 1792, 2304}, {0.82, 1792, 2176}, {0.88, 1920, 2176}, {0.94, 1920, 2048},
    {1.0, 2048, 2048}, {1.07, 2048, 1920}, {1.13, 2176, 1920}, {1.21, 2176, 1792}, {1.29, 2304, 1792},
    {1.38, 2304, 1664}, {1.46, 2432, 1664}, {1.67, 2560, 1536}, {1.75, 2688, 1536}, {2.0, 2816, 1408},
    {2.09, 2944, 1408}, {2.4, 3072, 1280}, {2.5, 3200, 1280}, {2.89, 3328, 1152}, {3.0, 3456, 1152},
    {3.11, 3584, 1152}, {3.62, 3712, 1024}, {3.75, 3840, 1024}, {3.88, 3968, 1024}, {4.0, 4096, 1024},
};
inline constexpr AspectBin kAspectBins4096[] = {
    {0.25, 2048, 8192}, {0.26, 2048, 7936}, {0.27, 2048, 7680}, {0.28, 2048, 7424}, {0.32, 2304, 7168},
    {0.33, 2304, 6912}, {0.35, 2304, 6656}, {0.4, 2560, 6400}, {0.42, 2560, 6144}, {0.48, 2816, 5888},
    {0.5, 2816, 5632}, {0.52, 2816, 5376}, {0.57, 3072, 5376}, {0.6, 3072, 5120}, {0.68, 3328, 4864},
    {0.72, 3328, 4608}, {0.78, 3584, 4608}, {0.82, 3584, 4352}, {0.88, 3840, 4352}, {0.94, 3840, 4096},
    {1.0, 4096, 4096}, {1.07, 4096, 3840}, {1.13, 4352, 3840}, {1.21, 4352, 3584}, {1.29, 4608, 3584},
    {1.38, 4608, 3328}, {1.46, 4864, 3328}, {1.67, 5120, 3072}, {1.75, 5376, 3072}, {2.0, 5632, 2816},
    {2.09, 5888, 2816}, {2.4, 6144, 2560}, {2.5, 6400, 2560}, {2.89, 6656, 2304}, {3.0, 6912, 2304},
    {3.11, 7168, 2304}, {3.62, 7424, 2048}, {3.75, 7680, 2048}, {3.88, 7936, 2048}, {4.0, 8192, 2048},
};

/// The bin table for a native resolution in pixels (512, 1024, 2048, 4096), or an empty span when
/// there is none (binning is then off: true for the embedded toy model and any unusual checkpoint).
inline std::span<const AspectBin> aspect_bins_for(std::int64_t native_px) {
  switch (native_px) {
    case 512: return kAspectBins512;
    case 1024: return kAspectBins1024;
    case 2048: return kAspectBins2048;
    case 4096: return kAspectBins4096;
    default: return {};
  }
}

/// The table diffusers' SanaPipeline picks from the transformer's `sample_size` (latent pixels): 128 → 4096 px,
/// 64 → 2048, 32 → 1024, 16 → 512, whatever the VAE's compression. Other sizes have none: diffusers raises there
/// when binning is on; we generate at the requested size (the embedded toy model, sample_size 8).
inline std::span<const AspectBin> aspect_bins_for_sample_size(std::int64_t sample_size) {
  switch (sample_size) {
    case 16: return kAspectBins512;
    case 32: return kAspectBins1024;
    case 64: return kAspectBins2048;
    case 128: return kAspectBins4096;
    default: return {};
  }
}

/// diffusers `classify_height_width_bin`: the bin whose ratio key is closest to height/width
/// (first in table order on ties).
inline AspectBin closest_bin(std::span<const AspectBin> bins, std::int64_t height, std::int64_t width) {
  check(!bins.empty(), "resolution", "no aspect-ratio table");
  check(height > 0 && width > 0, "resolution", "height and width must be positive, got ", height, "x", width);
  const double ar = static_cast<double>(height) / static_cast<double>(width);
  const AspectBin* best = &bins[0];
  double best_d = 1e300;
  for (const auto& b : bins) {
    const double d = std::fabs(b.ratio - ar);
    if (d < best_d) {
      best_d = d;
      best = &b;
    }
  }
  return *best;
}

/// PixArtImageProcessor.resize_and_crop_tensor on one (C, H, W) float image: scale by
/// max(target_h/H, target_w/W) to (int(H·r), int(W·r)) with bilinear interpolation
/// (align_corners=False, no antialias), then crop the centre to (target_h, target_w).
inline void resize_and_crop(TensorView<const float, 3> src, TensorView<float, 3> dst) {
  const std::int64_t c = src.size(0), h = src.size(1), w = src.size(2);
  const std::int64_t th = dst.size(1), tw = dst.size(2);
  check(dst.size(0) == c, "resize_and_crop", "channel count differs: ", c, " vs ", dst.size(0));
  const double ratio = std::max(static_cast<double>(th) / static_cast<double>(h), static_cast<double>(tw) / static_cast<double>(w));
  const auto rh = static_cast<std::int64_t>(static_cast<double>(h) * ratio);
  const auto rw = static_cast<std::int64_t>(static_cast<double>(w) * ratio);
  check(rh >= th && rw >= tw, "resize_and_crop", "resized ", rh, "x", rw, " is smaller than the target ", th, "x", tw);
  const std::int64_t y0 = (rh - th) / 2, x0 = (rw - tw) / 2;
  // PyTorch's bilinear source index for align_corners=False: (dst + 0.5) * in/out - 0.5, clamped at 0.
  const double sy = static_cast<double>(h) / static_cast<double>(rh), sx = static_cast<double>(w) / static_cast<double>(rw);
  auto source = [](std::int64_t d, double scale, std::int64_t in, std::int64_t& i0, std::int64_t& i1, float& l1) {
    float s = static_cast<float>((static_cast<double>(d) + 0.5) * scale - 0.5);
    if (s < 0) s = 0;
    i0 = std::min<std::int64_t>(static_cast<std::int64_t>(s), in - 1);
    i1 = std::min<std::int64_t>(i0 + 1, in - 1);
    l1 = s - static_cast<float>(i0);
  };
  for (std::int64_t y = 0; y < th; ++y) {
    std::int64_t ya, yb;
    float ly;
    source(y + y0, sy, h, ya, yb, ly);
    for (std::int64_t x = 0; x < tw; ++x) {
      std::int64_t xa, xb;
      float lx;
      source(x + x0, sx, w, xa, xb, lx);
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const float top = (1 - lx) * src(ch, ya, xa) + lx * src(ch, ya, xb);
        const float bot = (1 - lx) * src(ch, yb, xa) + lx * src(ch, yb, xb);
        dst(ch, y, x) = (1 - ly) * top + ly * bot;
      }
    }
  }
}

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
