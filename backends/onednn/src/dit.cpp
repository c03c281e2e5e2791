// Linear-DiT ops on the oneDNN backend. oneDNN has no primitive for these (ReLU linear attention,
// modulated LayerNorm over strided rows, depthwise 3x3 with a GLU gate on channels-last tokens), so
// they run as our own AVX-512 kernels (simd.hpp) where the CPU has AVX-512, else as the reference
// loops; either way split across oneDNN's own OpenMP threads, each thread taking a slice of rows or
// heads (the reference path through a smaller descriptor of the same type).
#include <algorithm>
#include <cstdint>

#include "sana/backend/reference/dit.hpp"
#include "sana/backends/onednn/onednn.hpp"
#include "internal.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace {
using onednn::for_batch_rows;
using onednn::offset;
using onednn::parallel_chunks;

/// Writes the depthwise weights (2F, 1, 3, 3) tap-major in fp32, (9, 2F), followed by the bias (2F), into t.
void depthwise_taps(const DepthwiseGluDesc& d, float* t) {
  const std::int64_t C2 = 2 * d.f;
  reference::dispatch_float(d.dtype, "depthwise_glu", [&](auto tag) {
    using T = decltype(tag);
    const T* w = static_cast<const T*>(d.weight);
    const T* bias = static_cast<const T*>(d.bias);
    for (std::int64_t c = 0; c < C2; ++c) {
      for (int k = 0; k < 9; ++k) t[k * C2 + c] = to_float(w[c * 9 + k]);
      t[9 * C2 + c] = bias ? to_float(bias[c]) : 0.0f;
    }
  });
}
} // namespace

void kernels<onednn_backend>::run(onednn::Context&, const ModulatedLayerNormDesc& d) {
  if (onednn::simd::usable(d.dtype))
    return parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
      onednn::simd::layer_norm_modulated(d, r0, r1);
    });
  parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1;) {  // one sub-descriptor per batch item touched
      const std::int64_t b = r / d.rows, first = r % d.rows, count = std::min(d.rows - first, r1 - r);
      ModulatedLayerNormDesc s = d;
      s.batch = 1;
      s.rows = count;
      s.x = d.x.at(d.dtype, b, first);
      s.y = d.y.at(d.dtype, b, first);
      s.scale = d.scale.at(d.dtype, b, 0);
      s.shift = d.shift.at(d.dtype, b, 0);
      reference::run(s);
      r += count;
    }
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const RmsNormDesc& d) {
  if (onednn::simd::usable(d.dtype))
    return parallel_chunks(d.rows, 16, [&](std::int64_t r0, std::int64_t r1) { onednn::simd::rms_norm(d, r0, r1); });
  parallel_chunks(d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    RmsNormDesc s = d;
    s.rows = r1 - r0;
    s.x = d.x.at(d.dtype, 0, r0);
    s.y = d.y.at(d.dtype, 0, r0);
    reference::run(s);
  });
}

void kernels<onednn_backend>::run(onednn::Context& ctx, const LinearAttentionDesc& d) {
  if (onednn::simd::linear_attention_supported(d)) {
    // Phase 1: the (D+1) x D fp32 state of every (batch item, head); phase 2: token rows, all heads.
    const std::int64_t per_head = d.head_dim * d.head_dim + d.head_dim;
    float* states = static_cast<float*>(
        ctx.impl().buffer(onednn::kLinearAttentionStates, sizeof(float) * d.batch * d.heads * per_head));  // (B, H, D+1, D)
    parallel_chunks(d.batch * d.heads, 1, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i)
        onednn::simd::linear_attention_state(d, i / d.heads, i % d.heads, states + i * per_head);
    });
    return for_batch_rows(d.batch, d.n, 16, [&](std::int64_t b, std::int64_t n0, std::int64_t n1) {
      onednn::simd::linear_attention_apply(d, b, n0, n1, states + b * d.heads * per_head);
    });
  }
  // Independent per (batch item, head): each thread builds the d x d states of its heads.
  parallel_chunks(d.batch * d.heads, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t b = i / d.heads, h = i % d.heads, c0 = h * d.head_dim;
      LinearAttentionDesc s = d;
      s.batch = 1;
      s.heads = 1;
      s.q = d.q.at(d.dtype, b, 0, c0);
      s.k = d.k.at(d.dtype, b, 0, c0);
      s.v = d.v.at(d.dtype, b, 0, c0);
      s.out = d.out.at(d.dtype, b, 0, c0);
      reference::run(s);
    }
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const SoftmaxDesc& d) {
  if (onednn::simd::usable(d.dtype))
    return parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) { onednn::simd::softmax(d, r0, r1); });
  parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1;) {
      const std::int64_t b = r / d.rows, first = r % d.rows, count = std::min(d.rows - first, r1 - r);
      SoftmaxDesc s = d;
      s.batch = 1;
      s.rows = count;
      s.x = offset(d.x, (b * d.rows + first) * d.l, d.dtype);
      s.bias = d.bias.at(d.dtype, b, 0);
      reference::run(s);
      r += count;
    }
  });
}

void kernels<onednn_backend>::run(onednn::Context& ctx, const DepthwiseGluDesc& d) {
  const std::int64_t i0 = d.row_begin, i1 = d.row_end < 0 ? d.h : d.row_end, rows = i1 - i0;
  if (onednn::simd::usable(d.dtype)) {
    float* taps = static_cast<float*>(ctx.impl().buffer(onednn::kDepthwiseTaps, sizeof(float) * 20 * d.f));
    depthwise_taps(d, taps);  // (9, 2F) then the bias (2F), fp32
    return for_batch_rows(d.batch, rows, 1, [&](std::int64_t b, std::int64_t r0, std::int64_t r1) {
      onednn::simd::depthwise_glu(d, taps, taps + 18 * d.f, b, i0 + r0, i0 + r1);
    });
  }
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
  if (onednn::simd::usable(d.dtype))
    return parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
      onednn::simd::gated_residual(d, r0, r1);
    });
  parallel_chunks(d.batch * d.rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1;) {
      const std::int64_t b = r / d.rows, first = r % d.rows, count = std::min(d.rows - first, r1 - r);
      GatedResidualDesc s = d;
      s.batch = 1;
      s.rows = count;
      s.x = offset(d.x, (b * d.rows + first) * d.c, d.dtype);
      s.y = d.y.at(d.dtype, b, first);
      s.gate = d.gate.at(d.dtype, b, 0);
      reference::run(s);
      r += count;
    }
  });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
