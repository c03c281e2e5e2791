// DC-AE ops on the oneDNN backend (oneDNN has no primitive for these): the channel RMSNorm and the GLU
// as AVX-512 kernels where the CPU has them, the multi-scale linear attention and the upsampling as
// the reference loops per independent slice; all split across oneDNN's OpenMP threads.
#include "sana/backend/reference/dcae.hpp"
#include "sana/backends/onednn/onednn.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

using onednn::for_batch_rows;
using onednn::offset;
using onednn::parallel_chunks;

void kernels<onednn_backend>::run(onednn::Context&, const ChannelRmsNormDesc& d) {
  if (!onednn::simd::usable(d.dtype)) return reference::run(d);
  for_batch_rows(d.n, d.pixels, 64, [&](std::int64_t n, std::int64_t p0, std::int64_t p1) {
    onednn::simd::channel_rms_norm(d, n, p0, p1);
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const GluDesc& d) {
  if (!onednn::simd::usable(d.dtype)) return reference::run(d);
  for_batch_rows(d.n, d.channels * d.pixels, 4096, [&](std::int64_t n, std::int64_t i0, std::int64_t i1) {
    onednn::simd::glu(d, n, i0, i1);
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const MultiscaleAttentionDesc& d) {
  // Every (image, branch, head group) is independent: one reference group per work item.
  reference::dispatch_float(d.dtype, "multiscale_attention", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t hd = d.head_dim, plane = hd * d.pixels, groups = d.branches * d.heads;
    parallel_chunks(d.n * groups, 1, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        const std::int64_t n = i / groups, b = (i % groups) / d.heads, g = i % d.heads;
        const T* base = static_cast<const T*>(d.qkv[b]) + n * 3 * d.heads * plane + g * 3 * plane;
        T* out = static_cast<T*>(d.out) + n * groups * plane + (b * d.heads + g) * plane;
        if (d.quadratic)
          reference::detail::quadratic_attention_group(base, base + plane, base + 2 * plane, out, hd, d.pixels, d.eps);
        else
          reference::detail::linear_attention_group(base, base + plane, base + 2 * plane, out, hd, d.pixels, d.eps);
      }
    });
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const UpsampleNearest2xDesc& d) {
  parallel_chunks(d.n * d.c, 1, [&](std::int64_t c0, std::int64_t c1) {  // planes
    UpsampleNearest2xDesc s = d;
    s.n = 1;
    s.c = c1 - c0;
    s.x = offset(d.x, c0 * d.h * d.w, d.dtype);
    s.y = offset(d.y, c0 * 4 * d.h * d.w, d.dtype);
    reference::run(s);
  });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
