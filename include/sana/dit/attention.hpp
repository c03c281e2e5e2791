/// @file
/// The transformer's attention extension points, the role diffusers' attention processors play: per block a
/// self-attention and a cross-attention callable that replace the built-ins, and hooks that read or modify a
/// block's output and read its cross-attention probabilities. Set through `SanaTransformer::extensions(block)`
/// or `set_self_attention` / `set_cross_attention` (docs/research.md, examples/custom_attention). A callable
/// composes the library's ops on the transformer's backend; unset points cost nothing.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "sana/backend/descriptors_dit.hpp"
#include "sana/backend/traits.hpp"
#include "sana/core/config.hpp"
#include "sana/core/tensor_view.hpp"
#include "sana/core/workspace.hpp"
#include "sana/ops.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dit {

/// One block's self-attention: the projections of the batch items with real attention (PAG's perturbed items
/// take the identity branch in the block itself) and where the attention output goes, before the output
/// projection. q and k are RMS-normalised already on qk_norm models (Sana 1.5).
template <class B, class T>
struct SelfAttentionCall {
  context_t<B>& ctx;
  Workspace<B>& ws;                            ///< scratch for the call, released when it returns
  std::size_t block;
  TensorView<const T, 3, space_t<B>> q, k, v;  ///< (B', N, C) token rows of one fused projection
  TensorView<T, 3, space_t<B>> out;            ///< (B', N, C)
  std::int64_t heads, height, width;           ///< attention heads; the token grid, N = height · width
};

/// One block's cross-attention over the text: queries from the image tokens, keys and values from the prompt
/// (computed once per prompt), the additive key bias of padded tokens (-10000, or none).
template <class B, class T>
struct CrossAttentionCall {
  context_t<B>& ctx;
  Workspace<B>& ws;
  std::size_t block;
  TensorView<const T, 3, space_t<B>> q;        ///< (B, N, Ci)
  TensorView<const T, 3, space_t<B>> k, v;     ///< (B, L, Ci)
  std::optional<TensorView<const T, 2, space_t<B>>> bias;  ///< (B, L)
  TensorView<T, 3, space_t<B>> out;            ///< (B, N, Ci), before the output projection
  std::int64_t heads;
  const ops::AttentionProbabilitiesFn<T, space_t<B>>& probabilities;  ///< the block's probability hook (may be empty)
};

/// The residual stream after a block, which the hook may read or modify in place.
template <class B, class T>
struct BlockOutputCall {
  context_t<B>& ctx;
  std::size_t block;
  TensorView<T, 3, space_t<B>> x;              ///< (B, N, C)
  std::int64_t height, width;
};

template <class B, class T> using SelfAttentionFn = std::function<void(const SelfAttentionCall<B, T>&)>;
template <class B, class T> using CrossAttentionFn = std::function<void(const CrossAttentionCall<B, T>&)>;
template <class B, class T> using BlockOutputFn = std::function<void(const BlockOutputCall<B, T>&)>;

/// Everything a block can have replaced or observed; empty members keep the built-in behaviour.
template <class B, class T>
struct BlockExtensions {
  SelfAttentionFn<B, T> self_attention;    ///< empty: ReLU linear attention
  CrossAttentionFn<B, T> cross_attention;  ///< empty: softmax attention over the text
  BlockOutputFn<B, T> after_block;         ///< called with the block's output
  /// Called with every chunk of the cross-attention probabilities: (batch item, first query token, (H, nc, L)).
  ops::AttentionProbabilitiesFn<T, space_t<B>> cross_probabilities;
  bool empty() const { return !self_attention && !cross_attention && !after_block && !cross_probabilities; }
};

/// Softmax attention of q over (k, v) with an optional key bias, its score scratch (H, chunk, L) from `ws`.
template <class B, class T>
void softmax_attention(context_t<B>& ctx, Workspace<B>& ws, TensorView<const T, 3, space_t<B>> q,
                       TensorView<const T, 3, space_t<B>> k, TensorView<const T, 3, space_t<B>> v,
                       std::optional<TensorView<const T, 2, space_t<B>>> bias, TensorView<T, 3, space_t<B>> out,
                       std::int64_t heads, const ops::AttentionProbabilitiesFn<T, space_t<B>>& probabilities = {},
                       std::int64_t chunk = 1024) {
  auto scope = ws.scope();
  const std::int64_t nc = std::max<std::int64_t>(1, std::min(q.size(1), chunk));
  auto scores = ws.template allocate<T>(Shape<3>{heads, nc, k.size(1)});  // (H, nc, L)
  ops::cross_attention(ctx, q, k, v, bias, out, heads, scores, probabilities);
}

/// Sana's self-attention with another feature map φ (FeatureMap::relu is the built-in).
template <class B, class T>
SelfAttentionFn<B, T> linear_self_attention(FeatureMap feature_map = FeatureMap::relu, float eps = 1e-15f) {
  return [feature_map, eps](const SelfAttentionCall<B, T>& c) {
    ops::linear_attention(c.ctx, c.q, c.k, c.v, c.out, c.heads, eps, feature_map);
  };
}

/// Quadratic softmax self-attention over all tokens (scaled dot product, no mask): the ablation of Sana's
/// linear attention. Costs O(N²) time; scratch (heads, chunk, N).
template <class B, class T>
SelfAttentionFn<B, T> softmax_self_attention(std::int64_t chunk = 1024) {
  return [chunk](const SelfAttentionCall<B, T>& c) {
    softmax_attention<B, T>(c.ctx, c.ws, c.q, c.k, c.v, std::nullopt, c.out, c.heads, {}, chunk);
  };
}

/// PAG's perturbation for every item: each token's output is its own value vector.
template <class B, class T>
SelfAttentionFn<B, T> identity_self_attention() {
  return [](const SelfAttentionCall<B, T>& c) { ops::copy(c.ctx, c.v, c.out); };
}

/// The built-in cross-attention as a callable (to wrap it, e.g. scaling its output per block).
template <class B, class T>
CrossAttentionFn<B, T> softmax_cross_attention(std::int64_t chunk = 1024) {
  return [chunk](const CrossAttentionCall<B, T>& c) {
    softmax_attention<B, T>(c.ctx, c.ws, c.q, c.k, c.v, c.bias, c.out, c.heads, c.probabilities, chunk);
  };
}

} // namespace dit
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
