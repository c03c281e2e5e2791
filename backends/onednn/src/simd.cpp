// AVX-512 kernels of the oneDNN backend (see simd.hpp). fp32 math as in the reference kernels, the
// same order of accumulation per element, fused multiply-adds, and bf16/f16 converted in registers
// with the reference's rounding (round to nearest even; NaN stays NaN).
#include "simd.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "sana/backend/reference/text.hpp"
#include "sana/core/dtype.hpp"

#define SANA_SIMD __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace onednn::simd {

namespace {

bool cpu_has_isa() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

inline __mmask16 lanes(std::int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1u); }

template <class T>
SANA_SIMD inline __m512 load(const T* p, __mmask16 m = 0xffff) {
  if constexpr (std::is_same_v<T, float>) {
    return _mm512_maskz_loadu_ps(m, p);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if constexpr (std::is_same_v<T, bf16>) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  }
}

/// detail::float_to_bf16_bits 16 lanes at a time: the bf16 value in the upper half of each 32-bit lane.
SANA_SIMD inline __m512i bf16_rounded(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd));
  return _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_or_si512(u, _mm512_set1_epi32(0x400000)));
}

template <class T>
SANA_SIMD inline void store(T* p, __m512 v, __mmask16 m = 0xffff) {
  if constexpr (std::is_same_v<T, float>) {
    _mm512_mask_storeu_ps(p, m, v);
  } else if constexpr (std::is_same_v<T, bf16>) {
    _mm256_mask_storeu_epi16(p, m, _mm512_cvtepi32_epi16(_mm512_srli_epi32(bf16_rounded(v), 16)));
  } else {
    _mm256_mask_storeu_epi16(p, m, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
}

/// exp(x) to about 1 ulp: x = n ln2 + r (Cody-Waite), a degree-7 Taylor polynomial on |r| <= ln2/2,
/// scaled by 2^n; inf above float's range, NaN stays NaN. Results below FLT_MIN (x < -87.34) are 0,
/// not subnormals: a subnormal result costs a microcode assist per lane (masked softmax entries at
/// -10000 made the whole softmax 20x slower), and such values vanish next to the row's maximum of 1.
SANA_SIMD inline __m512 exp(__m512 x) {
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  const __mmask16 normal = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_GE_OQ);
  const __m512 c = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(89.0f)), _mm512_set1_ps(-87.33654f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(c, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), c);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  for (float k : {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f})
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(k));
  return _mm512_mask_mov_ps(_mm512_maskz_mov_ps(normal, _mm512_scalef_ps(p, n)), nan, x);
}

/// v rounded to T and back, in registers (reference::detail::round_to).
template <class T>
SANA_SIMD inline __m512 round_to(__m512 v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else if constexpr (std::is_same_v<T, bf16>)
    return _mm512_castsi512_ps(_mm512_and_si512(bf16_rounded(v), _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  else return _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/// tanh(x) to a few ulp: the odd Taylor series up to x^15 for |x| < 0.55, else (1 - e) / (1 + e) with
/// e = exp(-2|x|) (no cancellation there); the sign restored last; NaN stays NaN.
SANA_SIMD inline __m512 tanh(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f), a = _mm512_abs_ps(x);
  const __m512 e = exp(_mm512_mul_ps(_mm512_set1_ps(-2.0f), a));
  const __m512 large = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  const __m512 a2 = _mm512_mul_ps(a, a);
  __m512 p = _mm512_set1_ps(-929569.0f / 638512875.0f);
  for (float c : {21844.0f / 6081075.0f, -1382.0f / 155925.0f, 62.0f / 2835.0f, -17.0f / 315.0f, 2.0f / 15.0f, -1.0f / 3.0f})
    p = _mm512_fmadd_ps(p, a2, _mm512_set1_ps(c));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(a, a2), p, a);
  const __m512 t = _mm512_mask_mov_ps(large, _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.55f), _CMP_LT_OQ), small);
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(static_cast<int>(0x80000000u)));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign));
}

/// g * sigmoid(g) as the reference writes it: g / (1 + exp(-g)).
SANA_SIMD inline __m512 silu(__m512 g) {
  return _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), exp(_mm512_sub_ps(_mm512_setzero_ps(), g))));
}

// ---- row-wise ops ----------------------------------------------------------------------------

template <class T>
SANA_SIMD void layer_norm_rows(const ModulatedLayerNormDesc& d, std::int64_t r0, std::int64_t r1) {
  const std::int64_t C = d.c;
  const float inv_c = 1.0f / static_cast<float>(C);
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int64_t b = r / d.rows, i = r % d.rows;
    const T* x = d.x.row<const T>(b, i);
    T* y = d.y.row<T>(b, i);
    __m512 s = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < C; j += 16) s = _mm512_add_ps(s, load(x + j, lanes(C - j)));
    const float mean = _mm512_reduce_add_ps(s) * inv_c;
    const __m512 vm = _mm512_set1_ps(mean);
    __m512 q = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = lanes(C - j);
      const __m512 t = _mm512_maskz_sub_ps(m, load(x + j, m), vm);
      q = _mm512_fmadd_ps(t, t, q);
    }
    const __m512 rstd = _mm512_set1_ps(1.0f / std::sqrt(_mm512_reduce_add_ps(q) * inv_c + d.eps));
    const T* sc = d.scale ? d.scale.row<const T>(b, 0) : nullptr;
    const T* sh = d.scale ? d.shift.row<const T>(b, 0) : nullptr;
    for (std::int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = lanes(C - j);
      __m512 t = _mm512_mul_ps(_mm512_sub_ps(load(x + j, m), vm), rstd);
      if (sc) t = _mm512_fmadd_ps(t, _mm512_add_ps(_mm512_set1_ps(1.0f), load(sc + j, m)), load(sh + j, m));
      store(y + j, t, m);
    }
  }
}

/// Rows [r0, r1) of y = x·rsqrt(mean(x²)+eps)·g with g = w (or 1 without w), or g = 1 + w for Gemma's norm
/// (`one_plus_w`), in the reference kernels' order of operations per element; y may be x.
template <class T, bool one_plus_w>
SANA_SIMD void rms_rows(const StridedRows& x0, const StridedRows& y0, const T* w, std::int64_t C, float eps, std::int64_t r0,
                        std::int64_t r1) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (std::int64_t r = r0; r < r1; ++r) {
    const T* x = x0.row<const T>(0, r);
    T* y = y0.row<T>(0, r);
    __m512 q = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < C; j += 16) {
      const __m512 t = load(x + j, lanes(C - j));
      q = _mm512_fmadd_ps(t, t, q);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(_mm512_reduce_add_ps(q) / static_cast<float>(C) + eps));
    for (std::int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = lanes(C - j);
      __m512 t = _mm512_mul_ps(load(x + j, m), inv);
      if constexpr (one_plus_w) t = _mm512_mul_ps(t, _mm512_add_ps(one, load(w + j, m)));
      else if (w) t = _mm512_mul_ps(t, load(w + j, m));
      store(y + j, t, m);
    }
  }
}

template <class T>
SANA_SIMD void rms_norm_rows(const RmsNormDesc& d, std::int64_t r0, std::int64_t r1) {
  rms_rows<T, false>(d.x, d.y, static_cast<const T*>(d.weight), d.c, d.eps, r0, r1);
}

template <class T>
SANA_SIMD void gated_residual_rows(const GatedResidualDesc& d, std::int64_t r0, std::int64_t r1) {
  const std::int64_t C = d.c;
  for (std::int64_t r = r0; r < r1; ++r) {
    T* x = static_cast<T*>(d.x) + r * C;
    const T* y = d.y.row<const T>(r / d.rows, r % d.rows);
    const T* g = d.gate ? d.gate.row<const T>(r / d.rows, 0) : nullptr;
    for (std::int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = lanes(C - j);
      const __m512 gy = g ? _mm512_mul_ps(load(g + j, m), load(y + j, m)) : load(y + j, m);
      store(x + j, _mm512_add_ps(load(x + j, m), gy), m);
    }
  }
}

template <class T>
SANA_SIMD void softmax_rows(const SoftmaxDesc& d, std::int64_t r0, std::int64_t r1) {
  const std::int64_t L = d.l;
  thread_local std::vector<float> scratch;
  if (scratch.size() < static_cast<std::size_t>(L + 16)) scratch.resize(static_cast<std::size_t>(L + 16));
  float* row = scratch.data();
  const __m512 scale = _mm512_set1_ps(d.scale);
  for (std::int64_t r = r0; r < r1; ++r) {
    T* x = static_cast<T*>(d.x) + r * L;
    const T* bias = d.bias ? d.bias.row<const T>(r / d.rows, 0) : nullptr;
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (std::int64_t j = 0; j < L; j += 16) {
      const __mmask16 m = lanes(L - j);
      const __m512 t = _mm512_fmadd_ps(scale, load(x + j, m), bias ? load(bias + j, m) : _mm512_setzero_ps());
      _mm512_mask_storeu_ps(row + j, m, t);
      mx = _mm512_mask_max_ps(mx, m, mx, t);
    }
    const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 sum = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < L; j += 16) {
      const __mmask16 m = lanes(L - j);
      const __m512 e = exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j), vmax));
      _mm512_mask_storeu_ps(row + j, m, e);
      sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (std::int64_t j = 0; j < L; j += 16) {
      const __mmask16 m = lanes(L - j);
      store(x + j, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j), inv), m);
    }
  }
}

// ---- Mix-FFN depthwise 3x3 + GLU -------------------------------------------------------------

template <class T>
SANA_SIMD void depthwise_glu_rows(const DepthwiseGluDesc& d, const float* taps, const float* bias, std::int64_t b,
                                  std::int64_t i0, std::int64_t i1) {
  const std::int64_t F = d.f, C2 = 2 * F;
  const T* u = static_cast<const T*>(d.u);
  T* out = static_cast<T*>(d.y);
  for (std::int64_t i = i0; i < i1; ++i) {
    for (std::int64_t j = 0; j < d.w; ++j) {
      T* y = out + ((b * d.h + i) * d.w + j) * F;
      for (std::int64_t c = 0; c < F; c += 16) {
        const __mmask16 m = lanes(F - c);
        __m512 a = _mm512_maskz_loadu_ps(m, bias + c), g = _mm512_maskz_loadu_ps(m, bias + F + c);
        for (int ky = 0; ky < 3; ++ky) {
          const std::int64_t ii = i + ky - 1;
          if (ii < 0 || ii >= d.h) continue;
          for (int kx = 0; kx < 3; ++kx) {
            const std::int64_t jj = j + kx - 1;
            if (jj < 0 || jj >= d.w) continue;
            const T* up = u + ((b * d.h + ii) * d.w + jj) * C2;
            const float* w = taps + (ky * 3 + kx) * C2;
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + c), load(up + c, m), a);
            g = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + F + c), load(up + F + c, m), g);
          }
        }
        store(y + c, _mm512_mul_ps(a, silu(g)), m);
      }
    }
  }
}

// ---- Gemma-2 attention softmax ----------------------------------------------------------------

/// Visible keys [j, j+16) of one query: inside [lo, hi] (causal / sliding window) and unmasked.
SANA_SIMD inline __mmask16 visible_keys(std::int64_t j, std::int64_t keys, std::int64_t lo, std::int64_t hi,
                                        const std::int64_t* km) {
  const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(j)),
                                       _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __mmask16 vis = lanes(keys - j) & _mm512_cmpge_epi32_mask(idx, _mm512_set1_epi32(static_cast<int>(lo))) &
                  _mm512_cmple_epi32_mask(idx, _mm512_set1_epi32(static_cast<int>(hi)));
  if (km) {
    const __mmask16 in = lanes(keys - j);
    const __m512i k0 = _mm512_maskz_loadu_epi64(static_cast<__mmask8>(in), km + j);
    const __m512i k1 = _mm512_maskz_loadu_epi64(static_cast<__mmask8>(in >> 8), km + j + 8);
    vis &= static_cast<__mmask16>(_mm512_test_epi64_mask(k0, k0) | (_mm512_test_epi64_mask(k1, k1) << 8));
  }
  return vis;
}

/// Rows [r0, r1) of the flattened (batch, heads, queries) score rows, as reference::run(AttentionSoftmaxDesc).
template <class T>
SANA_SIMD void attention_softmax_rows(const AttentionSoftmaxDesc& d, std::int64_t r0, std::int64_t r1) {
  const std::int64_t K = d.keys, shift = d.keys - d.queries;
  thread_local std::vector<float> scratch;
  if (scratch.size() < static_cast<std::size_t>(K + 16)) scratch.resize(static_cast<std::size_t>(K + 16));
  float* s = scratch.data();
  const __m512 cap = _mm512_set1_ps(d.softcap), neg_inf = _mm512_set1_ps(-INFINITY);
  for (std::int64_t r = r0; r < r1; ++r) {
    T* row = static_cast<T*>(d.scores) + r * K;
    const std::int64_t qpos = r % d.queries + shift;
    const std::int64_t hi = d.causal ? std::min(qpos, K - 1) : K - 1, lo = d.window > 0 ? qpos - d.window + 1 : 0;
    const std::int64_t* km = d.key_mask ? d.key_mask + (r / (d.heads * d.queries)) * K : nullptr;
    __m512 mx = neg_inf;
    for (std::int64_t j = 0; j < K; j += 16) {
      const __mmask16 vis = visible_keys(j, K, lo, hi, km);
      __m512 v = load(row + j, lanes(K - j));
      if (d.softcap > 0.0f) v = round_to<T>(_mm512_mul_ps(round_to<T>(tanh(round_to<T>(_mm512_div_ps(v, cap)))), cap));
      v = _mm512_mask_mov_ps(neg_inf, vis, v);
      _mm512_mask_storeu_ps(s + j, lanes(K - j), v);
      mx = _mm512_mask_max_ps(mx, vis, mx, v);
    }
    const float m = _mm512_reduce_max_ps(mx);
    if (m == -INFINITY) {  // no visible key: the uniform row PyTorch's additive mask gives
      const T u = convert<T>(1.0f / static_cast<float>(K));
      std::fill(row, row + K, u);
      continue;
    }
    __m512 sum = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < K; j += 16) {
      const __mmask16 in = lanes(K - j);
      const __m512 e = exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(in, s + j), _mm512_set1_ps(m)));
      _mm512_mask_storeu_ps(s + j, in, e);
      sum = _mm512_mask_add_ps(sum, in, sum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (std::int64_t j = 0; j < K; j += 16) store(row + j, _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes(K - j), s + j), inv), lanes(K - j));
  }
}

// ---- DC-AE ----------------------------------------------------------------------------------

/// Blocks of 64 pixels: the sum of squares over channels in 4 registers, then the scaled output.
template <class T>
SANA_SIMD void channel_rms_norm_pixels(const ChannelRmsNormDesc& d, std::int64_t n, std::int64_t p0, std::int64_t p1) {
  constexpr int Q = 4;
  const std::int64_t P = d.pixels, base = n * d.c * P;
  const T* x = static_cast<const T*>(d.x) + base;
  const T* res = d.residual ? static_cast<const T*>(d.residual) + base : nullptr;
  const T* w = static_cast<const T*>(d.weight);
  const T* bias = static_cast<const T*>(d.bias);
  T* y = static_cast<T*>(d.y) + base;
  const __m512 mean_scale = _mm512_set1_ps(1.0f / static_cast<float>(d.c)), eps = _mm512_set1_ps(d.eps);
  for (std::int64_t p = p0; p < p1; p += 16 * Q) {
    __mmask16 m[Q];
    __m512 inv[Q];
    for (int q = 0; q < Q; ++q) {
      m[q] = p + 16 * q < p1 ? lanes(p1 - p - 16 * q) : __mmask16(0);
      inv[q] = _mm512_setzero_ps();
    }
    for (std::int64_t c = 0; c < d.c; ++c)
      for (int q = 0; q < Q; ++q) {
        const __m512 v = load(x + c * P + p + 16 * q, m[q]);
        inv[q] = _mm512_fmadd_ps(v, v, inv[q]);
      }
    for (int q = 0; q < Q; ++q)
      inv[q] = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(_mm512_fmadd_ps(inv[q], mean_scale, eps)));
    for (std::int64_t c = 0; c < d.c; ++c) {
      const __m512 wc = _mm512_set1_ps(to_float(w[c])), bc = _mm512_set1_ps(bias ? to_float(bias[c]) : 0.0f);
      for (int q = 0; q < Q; ++q) {
        const std::int64_t off = c * P + p + 16 * q;
        __m512 v = _mm512_fmadd_ps(_mm512_mul_ps(load(x + off, m[q]), inv[q]), wc, bc);
        if (res) v = _mm512_add_ps(v, load(res + off, m[q]));
        store(y + off, v, m[q]);
      }
    }
  }
}

/// Channels-last: pixel rows [r0, r1) of the flattened (image, pixel) range, each a contiguous row of C channels.
template <class T>
SANA_SIMD void channel_rms_norm_row_range(const ChannelRmsNormDesc& d, std::int64_t r0, std::int64_t r1) {
  const std::int64_t C = d.c;
  const T* w = static_cast<const T*>(d.weight);
  const T* bias = static_cast<const T*>(d.bias);
  const float mean_scale = 1.0f / static_cast<float>(C);
  for (std::int64_t r = r0; r < r1; ++r) {
    const T* x = static_cast<const T*>(d.x) + r * C;
    const T* res = d.residual ? static_cast<const T*>(d.residual) + r * C : nullptr;
    T* y = static_cast<T*>(d.y) + r * C;
    __m512 q = _mm512_setzero_ps();
    for (std::int64_t j = 0; j < C; j += 16) {
      const __m512 t = load(x + j, lanes(C - j));
      q = _mm512_fmadd_ps(t, t, q);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / std::sqrt(_mm512_reduce_add_ps(q) * mean_scale + d.eps));
    for (std::int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = lanes(C - j);
      const __m512 b = bias ? load(bias + j, m) : _mm512_setzero_ps();
      __m512 v = _mm512_fmadd_ps(_mm512_mul_ps(load(x + j, m), inv), load(w + j, m), b);
      if (res) v = _mm512_add_ps(v, load(res + j, m));
      store(y + j, v, m);
    }
  }
}

/// Channels-last: pixel rows [r0, r1); row r of x holds the C values then the C gates.
template <class T>
SANA_SIMD void glu_row_range(const GluDesc& d, std::int64_t r0, std::int64_t r1) {
  const std::int64_t C = d.channels;
  for (std::int64_t r = r0; r < r1; ++r) {
    const T* a = static_cast<const T*>(d.x) + r * 2 * C;
    const T* g = a + C;
    T* o = static_cast<T*>(d.y) + r * C;
    for (std::int64_t j = 0; j < C; j += 16) {
      const __mmask16 m = lanes(C - j);
      store(o + j, _mm512_mul_ps(load(a + j, m), silu(load(g + j, m))), m);
    }
  }
}

template <class T>
SANA_SIMD void glu_elements(const GluDesc& d, std::int64_t n, std::int64_t i0, std::int64_t i1) {
  const std::int64_t plane = d.channels * d.pixels;
  const T* a = static_cast<const T*>(d.x) + n * 2 * plane;
  const T* g = a + plane;
  T* o = static_cast<T*>(d.y) + n * plane;
  for (std::int64_t i = i0; i < i1; i += 16) {
    const __mmask16 m = lanes(i1 - i);
    store(o + i, _mm512_mul_ps(load(a + i, m), silu(load(g + i, m))), m);
  }
}

// ---- ReLU linear attention -------------------------------------------------------------------

/// φ of LinearAttentionDesc::feature_map (the reference's detail::feature) on 16 lanes; a template parameter so
/// the ReLU kernel is the same code as before the option existed.
template <FeatureMap F>
SANA_SIMD inline __m512 feature(__m512 x) {
  if constexpr (F == FeatureMap::relu) {
    return _mm512_max_ps(x, _mm512_setzero_ps());
  } else if constexpr (F == FeatureMap::identity) {
    return x;
  } else {
    const __mmask16 positive = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(positive, exp(_mm512_min_ps(x, _mm512_setzero_ps())), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
  }
}

/// State of one (batch item, head): st[j][i] = sum_n relu(k_n[j]) v_n[i] (D x D), then z[j] = sum_n relu(k_n[j]).
/// Tokens go through in blocks converted to fp32 once; R state rows stay in registers per pass.
template <class T, int QD, FeatureMap F>
SANA_SIMD void state_head(const LinearAttentionDesc& d, std::int64_t b, std::int64_t h, float* st) {
  constexpr int D = 16 * QD, R = 16 / QD, NB = 64;
  alignas(64) float kb[NB * D], vb[NB * D];
  const T* k = d.k.row<const T>(b, 0) + h * D;
  const T* v = d.v.row<const T>(b, 0) + h * D;
  std::fill(st, st + D * D + D, 0.0f);
  for (std::int64_t n0 = 0; n0 < d.n; n0 += NB) {
    const int nb = static_cast<int>(std::min<std::int64_t>(NB, d.n - n0));
    for (int t = 0; t < nb; ++t)
      for (int q = 0; q < QD; ++q) {
        _mm512_store_ps(kb + t * D + 16 * q, feature<F>(load(k + (n0 + t) * d.k.row_stride + 16 * q)));
        _mm512_store_ps(vb + t * D + 16 * q, load(v + (n0 + t) * d.v.row_stride + 16 * q));
      }
    for (int j0 = 0; j0 < D; j0 += R) {
      __m512 acc[R][QD];
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < QD; ++q) acc[r][q] = _mm512_loadu_ps(st + (j0 + r) * D + 16 * q);
      for (int t = 0; t < nb; ++t) {
        __m512 vv[QD];
        for (int q = 0; q < QD; ++q) vv[q] = _mm512_load_ps(vb + t * D + 16 * q);
        for (int r = 0; r < R; ++r) {
          const __m512 kj = _mm512_set1_ps(kb[t * D + j0 + r]);
          for (int q = 0; q < QD; ++q) acc[r][q] = _mm512_fmadd_ps(kj, vv[q], acc[r][q]);
        }
      }
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < QD; ++q) _mm512_storeu_ps(st + (j0 + r) * D + 16 * q, acc[r][q]);
    }
    for (int q = 0; q < QD; ++q) {
      __m512 z = _mm512_loadu_ps(st + D * D + 16 * q);
      for (int t = 0; t < nb; ++t) z = _mm512_add_ps(z, _mm512_load_ps(kb + t * D + 16 * q));
      _mm512_storeu_ps(st + D * D + 16 * q, z);
    }
  }
}

/// out_n = (sum_j q~_n[j] st[j]) / (q~_n . z + eps) for tokens [n0, n1) of batch item b, every head.
template <class T, int QD, FeatureMap F>
SANA_SIMD void apply_tokens(const LinearAttentionDesc& d, std::int64_t b, std::int64_t n0, std::int64_t n1,
                            const float* states) {
  constexpr int D = 16 * QD;
  alignas(64) float qb[D];
  for (std::int64_t n = n0; n < n1; ++n) {
    const T* qrow = d.q.row<const T>(b, n);
    T* orow = d.out.row<T>(b, n);
    for (std::int64_t h = 0; h < d.heads; ++h) {
      const float* st = states + h * (D * D + D);
      __m512 acc[QD], den = _mm512_setzero_ps();
      for (int q = 0; q < QD; ++q) {
        const __m512 qv = feature<F>(load(qrow + h * D + 16 * q));
        _mm512_store_ps(qb + 16 * q, qv);
        den = _mm512_fmadd_ps(qv, _mm512_loadu_ps(st + D * D + 16 * q), den);
        acc[q] = _mm512_setzero_ps();
      }
      for (int j = 0; j < D; ++j) {
        const __m512 qj = _mm512_set1_ps(qb[j]);
        for (int q = 0; q < QD; ++q) acc[q] = _mm512_fmadd_ps(qj, _mm512_loadu_ps(st + j * D + 16 * q), acc[q]);
      }
      const __m512 inv = _mm512_set1_ps(1.0f / (_mm512_reduce_add_ps(den) + d.eps));
      for (int q = 0; q < QD; ++q) store(orow + h * D + 16 * q, _mm512_mul_ps(acc[q], inv));
    }
  }
}


// ---- Gemma-2 -----------------------------------------------------------------------------------

template <class T>
SANA_SIMD void gemma_rms_norm_rows(const GemmaRmsNormDesc& d, std::int64_t r0, std::int64_t r1) {
  rms_rows<T, true>(d.x, d.y, static_cast<const T*>(d.weight), d.cols, d.eps, r0, r1);
}

/// Rotate-half RoPE of tokens [t0, t1): cos/sin per token as the reference computes them (scalar, rounded
/// to T), then every head of every batch item rotated 16 pairs at a time with the reference's three roundings.
template <class T>
SANA_SIMD void rotary_tokens(const RotaryEmbeddingDesc& d, std::int64_t t0, std::int64_t t1) {
  const std::int64_t half = d.head_dim / 2;
  thread_local std::vector<float> table;
  table.resize(static_cast<std::size_t>(3 * half));
  float *inv_freq = table.data(), *cos_t = inv_freq + half, *sin_t = cos_t + half;
  reference::detail::rope_inv_freq(d.theta, d.head_dim, inv_freq);
  for (std::int64_t t = t0; t < t1; ++t) {
    reference::detail::rope_cos_sin<T>(static_cast<float>(d.position_offset + t), inv_freq, half, cos_t, sin_t);
    for (std::int64_t b = 0; b < d.batch; ++b) {
      for (std::int64_t h = 0; h < d.heads; ++h) {
        T* x = static_cast<T*>(d.x) + b * d.stride_b + t * d.stride_t + h * d.stride_h;
        for (std::int64_t i = 0; i < half; i += 16) {
          const __mmask16 m = lanes(half - i);
          const __m512 x1 = load(x + i, m), x2 = load(x + half + i, m);
          const __m512 c = _mm512_maskz_loadu_ps(m, cos_t + i), s = _mm512_maskz_loadu_ps(m, sin_t + i);
          const __m512 lo = _mm512_add_ps(round_to<T>(_mm512_mul_ps(x1, c)),
                                          round_to<T>(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), x2), s)));
          const __m512 hi = _mm512_add_ps(round_to<T>(_mm512_mul_ps(x2, c)), round_to<T>(_mm512_mul_ps(x1, s)));
          store(x + i, lo, m);
          store(x + half + i, hi, m);
        }
      }
    }
  }
}

} // namespace

// Runs KERNEL<T>(args...) for the descriptor's dtype; false for a dtype these kernels do not cover.
#define SANA_SIMD_BY_DTYPE(dtype, KERNEL, ...)                            \
  switch (dtype) {                                                         \
    case DType::F32: KERNEL<float>(__VA_ARGS__); return true;              \
    case DType::BF16: KERNEL<bf16>(__VA_ARGS__); return true;              \
    case DType::F16: KERNEL<f16>(__VA_ARGS__); return true;                \
    default: return false;                                                 \
  }

bool available() {
  static const bool ok = cpu_has_isa();
  return ok;
}

bool layer_norm_modulated(const ModulatedLayerNormDesc& d, std::int64_t r0, std::int64_t r1) {
  SANA_SIMD_BY_DTYPE(d.dtype, layer_norm_rows, d, r0, r1)
}
bool rms_norm(const RmsNormDesc& d, std::int64_t r0, std::int64_t r1) { SANA_SIMD_BY_DTYPE(d.dtype, rms_norm_rows, d, r0, r1) }
bool gated_residual(const GatedResidualDesc& d, std::int64_t r0, std::int64_t r1) {
  SANA_SIMD_BY_DTYPE(d.dtype, gated_residual_rows, d, r0, r1)
}
bool softmax(const SoftmaxDesc& d, std::int64_t r0, std::int64_t r1) { SANA_SIMD_BY_DTYPE(d.dtype, softmax_rows, d, r0, r1) }
bool depthwise_glu(const DepthwiseGluDesc& d, const float* taps, const float* bias, std::int64_t b, std::int64_t i0,
                   std::int64_t i1) {
  SANA_SIMD_BY_DTYPE(d.dtype, depthwise_glu_rows, d, taps, bias, b, i0, i1)
}

bool usable(DType t) { return available() && (t == DType::F32 || t == DType::BF16 || t == DType::F16); }

bool attention_softmax(const AttentionSoftmaxDesc& d, std::int64_t r0, std::int64_t r1) {
  if (d.keys >= (std::int64_t{1} << 31)) return false;  // 32-bit key indices
  SANA_SIMD_BY_DTYPE(d.dtype, attention_softmax_rows, d, r0, r1)
}
bool gemma_rms_norm(const GemmaRmsNormDesc& d, std::int64_t r0, std::int64_t r1) {
  SANA_SIMD_BY_DTYPE(d.dtype, gemma_rms_norm_rows, d, r0, r1)
}
bool rotary_embedding(const RotaryEmbeddingDesc& d, std::int64_t t0, std::int64_t t1) {
  if (d.head_dim % 2 != 0) return false;  // the reference reports it
  SANA_SIMD_BY_DTYPE(d.dtype, rotary_tokens, d, t0, t1)
}
bool channel_rms_norm(const ChannelRmsNormDesc& d, std::int64_t n, std::int64_t p0, std::int64_t p1) {
  SANA_SIMD_BY_DTYPE(d.dtype, channel_rms_norm_pixels, d, n, p0, p1)
}
bool glu(const GluDesc& d, std::int64_t n, std::int64_t i0, std::int64_t i1) {
  SANA_SIMD_BY_DTYPE(d.dtype, glu_elements, d, n, i0, i1)
}
bool channel_rms_norm_rows(const ChannelRmsNormDesc& d, std::int64_t r0, std::int64_t r1) {
  SANA_SIMD_BY_DTYPE(d.dtype, channel_rms_norm_row_range, d, r0, r1)
}
bool glu_rows(const GluDesc& d, std::int64_t r0, std::int64_t r1) { SANA_SIMD_BY_DTYPE(d.dtype, glu_row_range, d, r0, r1) }

bool linear_attention_supported(const LinearAttentionDesc& d) {
  return usable(d.dtype) && (d.head_dim == 16 || d.head_dim == 32 || d.head_dim == 64);
}

namespace {
/// fn(FeatureMap constant) for d's feature map.
template <class Fn>
void by_feature_map(const LinearAttentionDesc& d, Fn&& fn) {
  if (d.feature_map == FeatureMap::relu) fn(std::integral_constant<FeatureMap, FeatureMap::relu>{});
  else if (d.feature_map == FeatureMap::elu_plus_one) fn(std::integral_constant<FeatureMap, FeatureMap::elu_plus_one>{});
  else fn(std::integral_constant<FeatureMap, FeatureMap::identity>{});
}
template <class T>
void state_by_dim(const LinearAttentionDesc& d, std::int64_t b, std::int64_t h, float* st) {
  by_feature_map(d, [&](auto f) {
    if (d.head_dim == 16) state_head<T, 1, f()>(d, b, h, st);
    else if (d.head_dim == 32) state_head<T, 2, f()>(d, b, h, st);
    else state_head<T, 4, f()>(d, b, h, st);
  });
}
template <class T>
void apply_by_dim(const LinearAttentionDesc& d, std::int64_t b, std::int64_t n0, std::int64_t n1, const float* st) {
  by_feature_map(d, [&](auto f) {
    if (d.head_dim == 16) apply_tokens<T, 1, f()>(d, b, n0, n1, st);
    else if (d.head_dim == 32) apply_tokens<T, 2, f()>(d, b, n0, n1, st);
    else apply_tokens<T, 4, f()>(d, b, n0, n1, st);
  });
}
bool state_dispatch(const LinearAttentionDesc& d, std::int64_t b, std::int64_t h, float* st) {
  SANA_SIMD_BY_DTYPE(d.dtype, state_by_dim, d, b, h, st)
}
bool apply_dispatch(const LinearAttentionDesc& d, std::int64_t b, std::int64_t n0, std::int64_t n1, const float* st) {
  SANA_SIMD_BY_DTYPE(d.dtype, apply_by_dim, d, b, n0, n1, st)
}
} // namespace

void linear_attention_state(const LinearAttentionDesc& d, std::int64_t b, std::int64_t h, float* state) {
  state_dispatch(d, b, h, state);
}
void linear_attention_apply(const LinearAttentionDesc& d, std::int64_t b, std::int64_t n0, std::int64_t n1,
                            const float* states) {
  apply_dispatch(d, b, n0, n1, states);
}

#undef SANA_SIMD_BY_DTYPE

} // namespace onednn::simd
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
