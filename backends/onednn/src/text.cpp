// Gemma-2 text-encoder ops on the oneDNN backend, split across oneDNN's OpenMP threads: RMSNorm, RoPE and the
// soft-capped attention softmax as AVX-512 kernels where the CPU has them, the reference loops over independent
// slices (rows, tokens, (batch, head) pairs) elsewhere.
#include "sana/backend/reference/text.hpp"
#include "sana/backends/onednn/onednn.hpp"
#include "parallel.hpp"
#include "simd.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

using onednn::offset;
using onednn::parallel_chunks;

void kernels<onednn_backend>::run(onednn::Context&, const GemmaRmsNormDesc& d) {
  if (onednn::simd::usable(d.dtype))
    return parallel_chunks(d.rows, 8, [&](std::int64_t r0, std::int64_t r1) { onednn::simd::gemma_rms_norm(d, r0, r1); });
  parallel_chunks(d.rows, 8, [&](std::int64_t r0, std::int64_t r1) {
    GemmaRmsNormDesc s = d;
    s.rows = r1 - r0;
    s.x = d.x.at(d.dtype, 0, r0);
    s.y = d.y.at(d.dtype, 0, r0);
    reference::run(s);
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const RotaryEmbeddingDesc& d) {
  if (onednn::simd::usable(d.dtype) && d.head_dim % 2 == 0)
    return parallel_chunks(d.tokens, 8, [&](std::int64_t t0, std::int64_t t1) { onednn::simd::rotary_embedding(d, t0, t1); });
  parallel_chunks(d.tokens, 8, [&](std::int64_t t0, std::int64_t t1) {
    RotaryEmbeddingDesc s = d;
    s.tokens = t1 - t0;
    s.position_offset = d.position_offset + t0;
    s.x = offset(d.x, t0 * d.stride_t, d.dtype);
    reference::run(s);
  });
}

void kernels<onednn_backend>::run(onednn::Context&, const AttentionSoftmaxDesc& d) {
  if (onednn::simd::usable(d.dtype) && d.keys < (std::int64_t{1} << 31))
    return parallel_chunks(d.batch * d.heads * d.queries, 16, [&](std::int64_t r0, std::int64_t r1) {
      onednn::simd::attention_softmax(d, r0, r1);
    });
  parallel_chunks(d.batch * d.heads, 1, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {  // one (batch item, head) score matrix each
      AttentionSoftmaxDesc s = d;
      s.batch = 1;
      s.heads = 1;
      s.scores = offset(d.scores, i * d.queries * d.keys, d.dtype);
      if (d.key_mask) s.key_mask = d.key_mask + (i / d.heads) * d.keys;
      reference::run(s);
    }
  });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
