/// @file
/// Text-encoder ops: `embedding_lookup`, `gemma_rms_norm`, `rotary_embedding`, `attention_softmax`
/// (semantics in backend/descriptors_text.hpp).
#pragma once

#include <cstdint>

#include "sana/backend/descriptors_text.hpp"
#include "sana/core/tensor_view.hpp"
#include "sana/ops/dispatch.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace ops {

/// out (N, C) = table[ids] (V, C) · scale; scale should be representable in T (the caller rounds it).
template <class Ctx, class T>
void embedding_lookup(Ctx& ctx, TensorView<const std::int64_t, 1, space_of<Ctx>> ids,
                      std::type_identity_t<TensorView<const T, 2, space_of<Ctx>>> table, TensorView<T, 2, space_of<Ctx>> out,
                      float scale = 1.0f) {
  static_assert(FloatElement<T>, "[embedding_lookup] element type must be float, f16 or bf16");
  check(out.size(0) == ids.size(0) && out.size(1) == table.size(1), "embedding_lookup", "output ", shape_string(out.shape()),
        " does not match ", ids.size(0), " ids of a table ", shape_string(table.shape()));
  check(ids.is_contiguous() && table.is_contiguous() && out.is_contiguous(), "embedding_lookup",
        "ids, table and output must be contiguous");
  EmbeddingLookupDesc d;
  d.dtype = dtype_of_v<T>;
  d.n = ids.size(0);
  d.vocab = table.size(0);
  d.dim = table.size(1);
  d.ids = ids.data();
  d.table = table.data();
  d.out = out.data();
  d.scale = scale;
  if (d.n == 0 || d.dim == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// out (..., C) = Gemma RMSNorm of x (..., C) with weight (C): x·rsqrt(mean(x²)+eps)·(1+w) in fp32. out may be x.
template <class Ctx, class T, std::size_t R>
void gemma_rms_norm(Ctx& ctx, std::type_identity_t<TensorView<const T, R, space_of<Ctx>>> x,
                    std::type_identity_t<TensorView<const T, 1, space_of<Ctx>>> weight, TensorView<T, R, space_of<Ctx>> out,
                    float eps) {
  static_assert(FloatElement<T>, "[gemma_rms_norm] element type must be float, f16 or bf16");
  check(x.shape() == out.shape(), "gemma_rms_norm", "input ", shape_string(x.shape()), " and output ",
        shape_string(out.shape()), " differ");
  check(weight.size(0) == x.size(R - 1) && (weight.stride(0) == 1 || weight.size(0) <= 1), "gemma_rms_norm", "weight ",
        shape_string(weight.shape()), " does not match the last dimension of ", shape_string(x.shape()), " or is strided");
  GemmaRmsNormDesc d;
  d.dtype = dtype_of_v<T>;
  d.cols = x.size(R - 1);
  std::int64_t rows_out = 0;
  d.x = detail::flat_rows(x, d.rows, "gemma_rms_norm", "input");
  d.y = detail::flat_rows(out, rows_out, "gemma_rms_norm", "output");
  d.weight = weight.data();
  d.eps = eps;
  if (d.rows == 0 || d.cols == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// In-place rotate-half RoPE on x (B, T, H, D) (unit stride along D); token t sits at position offset + t.
template <class Ctx, class T>
void rotary_embedding(Ctx& ctx, TensorView<T, 4, space_of<Ctx>> x, float theta, std::int64_t position_offset = 0) {
  static_assert(FloatElement<T>, "[rotary_embedding] element type must be float, f16 or bf16");
  check(x.size(3) % 2 == 0, "rotary_embedding", "head dimension of ", shape_string(x.shape()), " must be even");
  check(x.stride(3) == 1 || x.size(3) <= 1, "rotary_embedding", "head dimension must be contiguous");
  RotaryEmbeddingDesc d;
  d.dtype = dtype_of_v<T>;
  d.batch = x.size(0);
  d.tokens = x.size(1);
  d.heads = x.size(2);
  d.head_dim = x.size(3);
  d.x = x.data();
  d.stride_b = x.stride(0);
  d.stride_t = x.stride(1);
  d.stride_h = x.stride(2);
  d.theta = theta;
  d.position_offset = position_offset;
  if (x.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

/// Options of `attention_softmax`.
struct AttentionMasking {
  float softcap = 0.0f;     ///< 0: no soft-capping
  bool causal = true;
  std::int64_t window = 0;  ///< sliding window in tokens; 0: none
};

/// In-place soft-capped, masked softmax of scores (B, H, Tq, Tk); key_mask (B, Tk), nonzero = real token.
template <class Ctx, class T>
void attention_softmax(Ctx& ctx, TensorView<T, 4, space_of<Ctx>> scores,
                       TensorView<const std::int64_t, 2, space_of<Ctx>> key_mask, const AttentionMasking& m) {
  static_assert(FloatElement<T>, "[attention_softmax] element type must be float, f16 or bf16");
  check(scores.is_contiguous(), "attention_softmax", "scores ", shape_string(scores.shape()), " must be contiguous");
  const bool has_mask = key_mask.data() != nullptr;
  check(!has_mask || (key_mask.size(0) == scores.size(0) && key_mask.size(1) == scores.size(3) && key_mask.is_contiguous()),
        "attention_softmax", "key mask ", shape_string(key_mask.shape()), " does not match scores ",
        shape_string(scores.shape()));
  check(scores.size(2) <= scores.size(3), "attention_softmax", "more queries than keys in ", shape_string(scores.shape()));
  AttentionSoftmaxDesc d;
  d.dtype = dtype_of_v<T>;
  d.batch = scores.size(0);
  d.heads = scores.size(1);
  d.queries = scores.size(2);
  d.keys = scores.size(3);
  d.scores = scores.data();
  d.key_mask = has_mask ? key_mask.data() : nullptr;
  d.softcap = m.softcap;
  d.causal = m.causal;
  d.window = m.window;
  if (scores.numel() == 0) return;
  detail::run<backend_of<Ctx>>(ctx, d);
}

} // namespace ops
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
