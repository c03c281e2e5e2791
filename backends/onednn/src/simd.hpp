// Internal to the oneDNN backend: AVX-512 kernels of our own for the ops oneDNN has no primitive for.
// Each function is compiled for AVX-512 through target attributes (the rest of the library stays
// baseline x86-64) and is only called when the CPU reports the ISA at run time; each returns false
// for a case it does not cover, and the caller then runs the reference loop.
#pragma once

#include <cstdint>

#include "sana/backend/descriptors_dcae.hpp"
#include "sana/backend/descriptors_dit.hpp"
#include "sana/backend/descriptors_text.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace onednn::simd {

/// Whether this CPU runs the AVX-512 kernels (AVX-512 F/BW/VL/DQ, FMA, F16C), checked once.
bool available();
/// Whether these kernels run on this CPU for tensors of dtype t (the float types).
bool usable(DType t);

// Row slices: each kernel works on rows [r0, r1) of the flattened (batch x rows) range, so the caller
// can split the work across threads.
bool layer_norm_modulated(const ModulatedLayerNormDesc& d, std::int64_t r0, std::int64_t r1);
bool rms_norm(const RmsNormDesc& d, std::int64_t r0, std::int64_t r1);
bool gated_residual(const GatedResidualDesc& d, std::int64_t r0, std::int64_t r1);
bool softmax(const SoftmaxDesc& d, std::int64_t r0, std::int64_t r1);
/// Output rows [i0, i1) of batch item b; `taps` (9, 2F) and `bias` (2F) are the weights in fp32, tap-major.
bool depthwise_glu(const DepthwiseGluDesc& d, const float* taps, const float* bias, std::int64_t b, std::int64_t i0,
                   std::int64_t i1);

/// Gemma-2: soft-capped, masked attention softmax of score rows [r0, r1) of the flattened
/// (batch, heads, queries) rows; false for a case it does not cover.
bool attention_softmax(const AttentionSoftmaxDesc& d, std::int64_t r0, std::int64_t r1);
/// Gemma-2: RMSNorm with (1 + w) of rows [r0, r1); RoPE (rotate-half) of tokens [t0, t1), all heads.
bool gemma_rms_norm(const GemmaRmsNormDesc& d, std::int64_t r0, std::int64_t r1);
bool rotary_embedding(const RotaryEmbeddingDesc& d, std::int64_t t0, std::int64_t t1);
/// DC-AE: RMSNorm over the channels of pixels [p0, p1) of image n (NCHW), vectorised across pixels.
bool channel_rms_norm(const ChannelRmsNormDesc& d, std::int64_t n, std::int64_t p0, std::int64_t p1);
/// DC-AE: GLU elements [i0, i1) of one image's (channels x pixels) output plane.
bool glu(const GluDesc& d, std::int64_t n, std::int64_t i0, std::int64_t i1);
/// DC-AE, channels-last: the same two ops over pixel rows [r0, r1) of the flattened (image, pixel) range.
bool channel_rms_norm_rows(const ChannelRmsNormDesc& d, std::int64_t r0, std::int64_t r1);
bool glu_rows(const GluDesc& d, std::int64_t r0, std::int64_t r1);

/// ReLU linear attention in two phases: the per-(batch, head) key-value state ((D+1) x D in fp32:
/// sum_n k~_n v_n^T and the key sum), then the outputs of tokens [n0, n1) of batch item b, all heads.
bool linear_attention_supported(const LinearAttentionDesc& d);
void linear_attention_state(const LinearAttentionDesc& d, std::int64_t b, std::int64_t h, float* state);
void linear_attention_apply(const LinearAttentionDesc& d, std::int64_t b, std::int64_t n0, std::int64_t n1,
                            const float* states);

} // namespace onednn::simd
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
