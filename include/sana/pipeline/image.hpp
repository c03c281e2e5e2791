/// @file
/// Decoder output to pixels, as diffusers' image processor does it: x ∈ [−1, 1] (C, H, W) →
/// clamp(x/2 + 1/2, 0, 1) → uint8 by numpy's round-half-to-even of x·255, interleaved (H, W, C).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>

#include "sana/core/error.hpp"
#include "sana/core/tensor_view.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

/// The [0, 1] value diffusers' "np" output holds for a decoder value.
inline float to_unit_range(float x) { return std::clamp(x * 0.5f + 0.5f, 0.0f, 1.0f); }

/// The 8-bit value diffusers' "pil" output holds: round-half-to-even of unit·255. NaN gives 0 (a cast of NaN
/// would be undefined; the pipeline refuses non-finite images before they get here).
inline std::uint8_t to_u8(float x) {
  if (std::isnan(x)) return 0;
  return static_cast<std::uint8_t>(std::nearbyint(to_unit_range(x) * 255.0f));  // default rounding: ties to even
}

/// (C, H, W) decoder output → (H, W, C) interleaved 8-bit pixels.
inline void to_pixels(TensorView<const float, 3> image, std::span<std::uint8_t> out) {
  const std::int64_t c = image.size(0), h = image.size(1), w = image.size(2);
  check(static_cast<std::int64_t>(out.size()) == c * h * w, "to_pixels", "output holds ", out.size(), " bytes, image needs ",
        c * h * w);
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t ch = 0; ch < c; ++ch) out[static_cast<std::size_t>((y * w + x) * c + ch)] = to_u8(image(ch, y, x));
}

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
