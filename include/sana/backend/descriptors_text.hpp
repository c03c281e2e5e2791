/// @file
/// Descriptors of the text-encoder (Gemma-2) ops: scaled embedding lookup, Gemma RMSNorm,
/// rotary position embedding and the soft-capped, masked attention softmax.
/// The semantics in each comment are transformers' eager Gemma-2 path; backends implement them.
#pragma once

#include <cstdint>

#include "sana/backend/descriptors.hpp"
#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// out[i, :] = table[ids[i], :] · scale, the product of two `dtype` values rounded once (RNE) to `dtype`
/// (Gemma2TextScaledWordEmbedding: the caller passes scale already rounded to dtype).
/// ids are int64 in [0, vocab); table (vocab, dim) and out (n, dim) are contiguous.
struct EmbeddingLookupDesc {
  DType dtype = DType::F32;
  std::int64_t n = 0, vocab = 0, dim = 0;
  const std::int64_t* ids = nullptr;
  const void* table = nullptr;
  void* out = nullptr;
  float scale = 1.0f;
};

/// Gemma RMSNorm of each of `rows` rows of length `cols`, in fp32 with one rounding at the end:
/// y = x · rsqrt(mean(x²) + eps) · (1 + w). Row r is x.row(0, r) / y.row(0, r); w (cols) is contiguous.
/// y may equal x.
struct GemmaRmsNormDesc {
  DType dtype = DType::F32;
  std::int64_t rows = 0, cols = 0;
  StridedRows x, y;
  const void* weight = nullptr;
  float eps = 1e-6f;
};

/// In-place rotary position embedding, rotate-half (non-interleaved) form, on x (batch, tokens, heads, head_dim)
/// with element strides (stride_b, stride_t, stride_h, 1). Token t has position position_offset + t.
/// As transformers computes it: inv_freq[i] = 1 / theta^(2i / head_dim) and angle = position · inv_freq[i] in
/// fp32; cos and sin are rounded to dtype; then x·cos and rotate_half(x)·sin are each rounded to dtype and
/// their sum rounded again (the three dtype ops of `q * cos + rotate_half(q) * sin`).
struct RotaryEmbeddingDesc {
  DType dtype = DType::F32;
  std::int64_t batch = 0, tokens = 0, heads = 0, head_dim = 0;
  void* x = nullptr;
  std::int64_t stride_b = 0, stride_t = 0, stride_h = 0;
  float theta = 10000.0f;
  std::int64_t position_offset = 0;
};

/// In-place attention softmax over the last dimension of scores (batch, heads, queries, keys), contiguous,
/// holding the already scaled logits q·kᵀ·scale. As transformers' eager Gemma-2 attention, each step rounded
/// to dtype: s ← softcap · tanh(s / softcap) when softcap > 0. Key j is visible to query i when
/// key_mask[b·keys + j] != 0, and, when causal, j ≤ i + (keys − queries), and, when window > 0,
/// (i + keys − queries) − j < window. The softmax is computed in fp32 over the visible keys (invisible ones
/// get probability 0) and rounded to dtype. A query with no visible key gets the uniform 1/keys, which is what
/// adding the dtype's lowest value to every logit gives in PyTorch. key_mask may be null (all keys valid).
struct AttentionSoftmaxDesc {
  DType dtype = DType::F32;
  std::int64_t batch = 0, heads = 0, queries = 0, keys = 0;
  void* scores = nullptr;
  const std::int64_t* key_mask = nullptr;
  float softcap = 0.0f;
  bool causal = true;
  std::int64_t window = 0;
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
