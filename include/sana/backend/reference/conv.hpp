/// @file
/// Reference 2-D convolution (NCHW, OIHW weights, groups, stride, padding, dilation), fp32 accumulation.
#pragma once

#include <cstdint>
#include <vector>

#include "sana/backend/descriptors.hpp"
#include "sana/backend/reference/activation.hpp"
#include "sana/backend/reference/channels_last.hpp"
#include "sana/backend/reference/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {

namespace detail {
template <class T>
void conv2d_typed(const Conv2dDesc& d) {
  const T* x = static_cast<const T*>(d.x);
  const T* w = static_cast<const T*>(d.weight);
  const T* bias = static_cast<const T*>(d.bias);
  T* y = static_cast<T*>(d.y);
  const std::int64_t cin_g = d.c_in / d.groups, cout_g = d.c_out / d.groups;
  std::vector<float> out_plane(static_cast<std::size_t>(d.h_out * d.w_out));
  for (std::int64_t n = 0; n < d.n; ++n) {
    for (std::int64_t oc = 0; oc < d.c_out; ++oc) {
      const std::int64_t g = oc / cout_g;
      std::fill(out_plane.begin(), out_plane.end(), 0.0f);
      // Accumulate one input channel and one tap at a time over the whole output plane.
      for (std::int64_t icg = 0; icg < cin_g; ++icg) {
        const std::int64_t ic = g * cin_g + icg;
        const T* xplane = x + (n * d.c_in + ic) * d.h * d.w;
        for (std::int64_t ky = 0; ky < d.kh; ++ky) {
          for (std::int64_t kx = 0; kx < d.kw; ++kx) {
            const float wv = to_float(w[((oc * cin_g + icg) * d.kh + ky) * d.kw + kx]);
            for (std::int64_t oy = 0; oy < d.h_out; ++oy) {
              const std::int64_t iy = oy * d.stride_h - d.pad_h + ky * d.dil_h;
              if (iy < 0 || iy >= d.h) continue;
              float* orow = &out_plane[oy * d.w_out];
              const T* xrow = xplane + iy * d.w;
              for (std::int64_t ox = 0; ox < d.w_out; ++ox) {
                const std::int64_t ix = ox * d.stride_w - d.pad_w + kx * d.dil_w;
                if (ix < 0 || ix >= d.w) continue;
                orow[ox] += wv * to_float(xrow[ix]);
              }
            }
          }
        }
      }
      const float b = bias ? to_float(bias[oc]) : 0.0f;
      T* yplane = y + (n * d.c_out + oc) * d.h_out * d.w_out;
      for (std::int64_t i = 0; i < d.h_out * d.w_out; ++i) yplane[i] = convert<T>(apply_activation(d.act, out_plane[i] + b));
    }
  }
}
} // namespace detail

inline void run(const Conv2dDesc& d) {
  if (d.channels_last)
    return detail::run_via_nchw(d, d.c_in, d.h * d.w, d.c_out, d.h_out * d.w_out, false, [](const auto& s) { run(s); });
  dispatch_float(d.dtype, "conv2d", [&](auto tag) { detail::conv2d_typed<decltype(tag)>(d); });
}

} // namespace reference
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
