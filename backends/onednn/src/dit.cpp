// Linear-DiT ops on the oneDNN backend. oneDNN has no primitive for these (ReLU linear attention,
// modulated LayerNorm over strided rows, depthwise 3x3 with a GLU gate on channels-last tokens), so
// the reference loops run here split across oneDNN's own OpenMP threads: each thread takes a slice of
// rows/heads described by a smaller descriptor of the same type. Results equal the reference exactly
// (the same per-row arithmetic).
#include <algorithm>
#include <cstdint>

#include <omp.h>

#include "sana/backend/reference/dit.hpp"
#include "sana/backends/onednn/onednn.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace {
std::size_t elem_size(DType t) { return t == DType::F32 ? 4 : 2; }

template <class P>
P offset(P p, std::int64_t elements, DType t) {
  using Byte = std::conditional_t<std::is_const_v<std::remove_pointer_t<P>>, const char, char>;
  return static_cast<P>(static_cast<Byte*>(p) + elements * static_cast<std::int64_t>(elem_size(t)));
}

/// Calls f(begin, end) over [0, n) in about 4 chunks per thread (serially when small).
template <class F>
void parallel_chunks(std::int64_t n, std::int64_t min_chunk, F&& f) {
  const int threads = omp_get_max_threads();
  const std::int64_t chunks = std::max<std::int64_t>(1, std::min<std::int64_t>(4 * threads, n / std::max<std::int64_t>(1, min_chunk)));
  if (chunks <= 1 || threads <= 1) {
    f(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t c = 0; c < chunks; ++c) f(n * c / chunks, n * (c + 1) / chunks);
}
} // namespace

void kernels<onednn_backend>::run(onednn::Context&, const ModulatedLayerNormDesc& d) {
  parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1;) {  // one sub-descriptor per batch item touched
      const std::int64_t b = r / d.rows, first = r % d.rows, count = std::min(d.rows - first, r1 - r);
      ModulatedLayerNormDesc s = d;
      s.batch = 1;
      s.rows = count;
      s.x = offset(d.x, b * d.x_batch_stride + first * d.x_row_stride, d.dtype);
      s.y = offset(d.y, b * d.y_batch_stride + first * d.y_row_stride, d.dtype);
      if (d.scale) {
        s.scale = offset(d.scale, b * d.mod_stride, d.dtype);
        s.shift = offset(d.shift, b * d.mod_stride, d.dtype);
      }
      reference::run(s);
      r += count;
    }
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const RmsNormDesc& d) {
  parallel_chunks(d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    RmsNormDesc s = d;
    s.rows = r1 - r0;
    s.x = offset(d.x, r0 * d.x_row_stride, d.dtype);
    s.y = offset(d.y, r0 * d.y_row_stride, d.dtype);
    reference::run(s);
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const LinearAttentionDesc& d) {
  // Independent per (batch item, head): each thread builds the d x d states of its heads.
  parallel_chunks(d.batch * d.heads, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t b = i / d.heads, h = i % d.heads, c0 = h * d.head_dim;
      LinearAttentionDesc s = d;
      s.batch = 1;
      s.heads = 1;
      s.q = offset(d.q, b * d.q_batch_stride + c0, d.dtype);
      s.k = offset(d.k, b * d.k_batch_stride + c0, d.dtype);
      s.v = offset(d.v, b * d.v_batch_stride + c0, d.dtype);
      s.out = offset(d.out, b * d.out_batch_stride + c0, d.dtype);
      reference::run(s);
    }
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const SoftmaxDesc& d) {
  parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1;) {
      const std::int64_t b = r / d.rows, first = r % d.rows, count = std::min(d.rows - first, r1 - r);
      SoftmaxDesc s = d;
      s.batch = 1;
      s.rows = count;
      s.x = offset(d.x, (b * d.rows + first) * d.l, d.dtype);
      if (d.bias) s.bias = offset(d.bias, b * d.bias_batch_stride, d.dtype);
      reference::run(s);
      r += count;
    }
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const DepthwiseGluDesc& d) {
  const std::int64_t i0 = d.row_begin, i1 = d.row_end < 0 ? d.h : d.row_end, rows = i1 - i0;
  parallel_chunks(d.batch * rows, 1, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1;) {
      const std::int64_t b = r / rows, first = r % rows, count = std::min(rows - first, r1 - r);
      DepthwiseGluDesc s = d;
      s.batch = 1;
      s.u = offset(d.u, b * d.h * d.w * 2 * d.f, d.dtype);
      s.y = offset(d.y, b * d.h * d.w * d.f, d.dtype);
      s.row_begin = i0 + first;
      s.row_end = i0 + first + count;
      reference::run(s);
      r += count;
    }
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const GatedResidualDesc& d) {
  parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1;) {
      const std::int64_t b = r / d.rows, first = r % d.rows, count = std::min(d.rows - first, r1 - r);
      GatedResidualDesc s = d;
      s.batch = 1;
      s.rows = count;
      s.x = offset(d.x, (b * d.rows + first) * d.c, d.dtype);
      s.y = offset(d.y, (b * d.rows + first) * d.y_row_stride, d.dtype);
      if (d.gate) s.gate = offset(d.gate, b * d.gate_stride, d.dtype);
      reference::run(s);
      r += count;
    }
  });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
