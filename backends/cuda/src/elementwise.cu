/// @file
/// Element-wise kernels: broadcasting binary ops, activations, linear combinations, strided copy/cast.
///
/// Strided ops first simplify their index space on the host: size-1 dimensions are dropped (a size-1
/// dimension of an input broadcasts, i.e. gets stride 0, as in the reference backend) and adjacent
/// dimensions that are contiguous in every operand are merged. A fully contiguous op then runs a flat
/// loop; the rest decompose the flat index over at most kMaxRank dimensions.

#include <array>
#include <cstdint>

#include "check.hpp"
#include "context_impl.hpp"
#include "device_common.cuh"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace cuda::detail {
namespace {

/// Index space over K operands after dropping size-1 dims and merging contiguous neighbours.
template <int K>
struct StridedIter {
  int rank = 0;
  std::int64_t sizes[kMaxRank] = {};
  std::int64_t strides[K][kMaxRank] = {};

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= sizes[d];
    return n;
  }
  /// Every operand walks memory with unit stride in one dimension (or none at all).
  bool flat_contiguous() const {
    if (rank == 0) return true;
    if (rank > 1) return false;
    for (int k = 0; k < K; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

template <int K>
StridedIter<K> make_iter(int rank, const std::array<std::int64_t, kMaxRank>& sizes,
                         const std::array<const std::array<std::int64_t, kMaxRank>*, K>& strides) {
  StridedIter<K> it;
  for (int d = 0; d < rank; ++d) {
    if (sizes[d] == 1) continue;  // contributes no offset
    if (it.rank > 0) {
      // Merge with the previous (outer) kept dim when, for every operand, outer stride == inner stride * inner size.
      // Checked against the dim being added: prev is outer, d is inner.
      const int p = it.rank - 1;
      bool merge = true;
      for (int k = 0; k < K; ++k)
        if (it.strides[k][p] != (*strides[k])[d] * sizes[d]) merge = false;
      if (merge) {
        it.sizes[p] *= sizes[d];
        for (int k = 0; k < K; ++k) it.strides[k][p] = (*strides[k])[d];
        continue;
      }
    }
    it.sizes[it.rank] = sizes[d];
    for (int k = 0; k < K; ++k) it.strides[k][it.rank] = (*strides[k])[d];
    ++it.rank;
  }
  return it;
}

template <int K>
__device__ __forceinline__ void offsets_of(const StridedIter<K>& it, std::int64_t e, std::int64_t (&off)[K]) {
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int d = it.rank - 1; d >= 0; --d) {
    const std::int64_t size = it.sizes[d];
    const std::int64_t c = e % size;
    e /= size;
    for (int k = 0; k < K; ++k) off[k] += c * it.strides[k][d];
  }
}

#define SANA_GRID_STRIDE_LOOP(i, n)                                                             \
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

__device__ __forceinline__ float binary_apply(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::Add: return a + b;
    case BinaryOp::Sub: return a - b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
  }
  return 0.0f;
}

// ---- binary ----------------------------------------------------------------------------------------

template <class T>
__global__ void binary_flat_kernel(BinaryOp op, const T* a, const T* b, T* out, std::int64_t n) {
  SANA_GRID_STRIDE_LOOP(i, n) { out[i] = convert<T>(binary_apply(op, to_float(a[i]), to_float(b[i]))); }
}

template <class T>
__global__ void binary_strided_kernel(BinaryOp op, const T* a, const T* b, T* out, StridedIter<3> it,
                                      std::int64_t n) {
  SANA_GRID_STRIDE_LOOP(i, n) {
    std::int64_t off[3];
    offsets_of(it, i, off);
    out[off[2]] = convert<T>(binary_apply(op, to_float(a[off[0]]), to_float(b[off[1]])));
  }
}

template <class T>
void binary_typed(cudaStream_t s, const BinaryDesc& d, const StridedIter<3>& it) {
  const std::int64_t n = it.numel();
  const T* a = static_cast<const T*>(d.a.data);
  const T* b = static_cast<const T*>(d.b.data);
  T* o = static_cast<T*>(d.out.data);
  if (it.flat_contiguous()) {
    binary_flat_kernel<T><<<grid_for(n), kBlock, 0, s>>>(d.op, a, b, o, n);
    SANA_CUDA_CHECK_LAUNCH("binary_flat_kernel");
  } else {
    binary_strided_kernel<T><<<grid_for(n), kBlock, 0, s>>>(d.op, a, b, o, it, n);
    SANA_CUDA_CHECK_LAUNCH("binary_strided_kernel");
  }
}

/// Strides with size-1 dimensions turned into broadcasts (stride 0).
std::array<std::int64_t, kMaxRank> broadcast_strides(const RawTensor& t) {
  auto s = t.strides;
  for (int i = 0; i < t.rank; ++i)
    if (t.sizes[i] == 1) s[i] = 0;
  return s;
}

// ---- activation / lincomb ------------------------------------------------------------------------

template <class T>
__global__ void activation_kernel(Activation act, const T* x, T* y, std::int64_t n) {
  SANA_GRID_STRIDE_LOOP(i, n) { y[i] = convert<T>(activate(act, to_float(x[i]))); }
}

template <class T>
__global__ void clamp_kernel(float lo, float hi, const T* x, T* y, std::int64_t n) {
  SANA_GRID_STRIDE_LOOP(i, n) {
    const float v = to_float(x[i]);
    y[i] = convert<T>(v < lo ? lo : v > hi ? hi : v);  // NaN passes, as in the reference
  }
}

template <class T>
struct LincombArgs {
  const T* x[kMaxLincombTerms];
  float coef[kMaxLincombTerms];
  int terms;
};

template <class T>
__global__ void lincomb_kernel(LincombArgs<T> p, T* y, std::int64_t n) {
  SANA_GRID_STRIDE_LOOP(i, n) {
    float acc = 0.0f;
    for (int t = 0; t < p.terms; ++t) acc += p.coef[t] * to_float(p.x[t][i]);
    y[i] = convert<T>(acc);  // every x[t][i] is read before y[i] is written: y may alias any x[t]
  }
}

// ---- copy ----------------------------------------------------------------------------------------

template <class S, class D>
__global__ void copy_flat_kernel(const S* src, D* dst, std::int64_t n) {
  SANA_GRID_STRIDE_LOOP(i, n) { dst[i] = convert<D>(src[i]); }
}

template <class S, class D>
__global__ void copy_strided_kernel(const S* src, D* dst, StridedIter<2> it, std::int64_t n) {
  SANA_GRID_STRIDE_LOOP(i, n) {
    std::int64_t off[2];
    offsets_of(it, i, off);
    dst[off[1]] = convert<D>(src[off[0]]);
  }
}

template <class S, class D>
void copy_typed(cudaStream_t s, const CopyDesc& d, const StridedIter<2>& it) {
  const std::int64_t n = it.numel();
  const S* src = static_cast<const S*>(d.src.data);
  D* dst = static_cast<D*>(d.dst.data);
  if (it.flat_contiguous()) {
    if constexpr (std::is_same_v<S, D>) {
      SANA_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(n) * sizeof(S), cudaMemcpyDeviceToDevice, s));
    } else {
      copy_flat_kernel<S, D><<<grid_for(n), kBlock, 0, s>>>(src, dst, n);
      SANA_CUDA_CHECK_LAUNCH("copy_flat_kernel");
    }
  } else {
    copy_strided_kernel<S, D><<<grid_for(n), kBlock, 0, s>>>(src, dst, it, n);
    SANA_CUDA_CHECK_LAUNCH("copy_strided_kernel");
  }
}

void check_rank(const RawTensor& t, int rank, const char* op, const char* name) {
  check(t.rank >= 0 && t.rank <= kMaxRank, op, name, " rank ", t.rank, " outside [0, ", kMaxRank, "]");
  check(t.rank == rank, op, name, " rank ", t.rank, " differs from the output rank ", rank);
}

} // namespace
} // namespace cuda::detail

using namespace cuda::detail;

void kernels<cuda_backend>::run(cuda::Context& ctx, const BinaryDesc& d) {
  check(d.out.rank >= 0 && d.out.rank <= kMaxRank, "binary", "rank ", d.out.rank, " outside [0, ", kMaxRank, "]");
  check_rank(d.a, d.out.rank, "binary", "a");
  check_rank(d.b, d.out.rank, "binary", "b");
  check(d.a.dtype == d.out.dtype && d.b.dtype == d.out.dtype, "binary", "dtypes differ (a ", dtype_name(d.a.dtype),
        ", b ", dtype_name(d.b.dtype), ", out ", dtype_name(d.out.dtype), ")");
  for (int i = 0; i < d.out.rank; ++i) {
    check(d.a.sizes[i] == d.out.sizes[i] || d.a.sizes[i] == 1, "binary", "a size ", d.a.sizes[i], " at dim ", i,
          " does not broadcast to ", d.out.sizes[i]);
    check(d.b.sizes[i] == d.out.sizes[i] || d.b.sizes[i] == 1, "binary", "b size ", d.b.sizes[i], " at dim ", i,
          " does not broadcast to ", d.out.sizes[i]);
  }
  if (d.out.numel() == 0) return;
  const auto sa = broadcast_strides(d.a), sb = broadcast_strides(d.b);
  const auto it = make_iter<3>(d.out.rank, d.out.sizes, {&sa, &sb, &d.out.strides});
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.out.dtype, "binary", [&](auto tag) { binary_typed<decltype(tag)>(s, d, it); });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const ActivationDesc& d) {
  check(d.n >= 0, "activation", "negative n ", d.n);
  if (d.n == 0) return;
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "activation", [&](auto tag) {
    using T = decltype(tag);
    if (d.act == Activation::None && d.x == d.y) return;
    activation_kernel<T><<<grid_for(d.n), kBlock, 0, s>>>(d.act, static_cast<const T*>(d.x), static_cast<T*>(d.y), d.n);
    SANA_CUDA_CHECK_LAUNCH("activation_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const ClampDesc& d) {
  check(d.n >= 0, "clamp", "negative n ", d.n);
  if (d.n == 0) return;
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "clamp", [&](auto tag) {
    using T = decltype(tag);
    clamp_kernel<T><<<grid_for(d.n), kBlock, 0, s>>>(d.lo, d.hi, static_cast<const T*>(d.x), static_cast<T*>(d.y), d.n);
    SANA_CUDA_CHECK_LAUNCH("clamp_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const LincombDesc& d) {
  check(d.n >= 0, "lincomb", "negative n ", d.n);
  check(d.terms >= 0 && d.terms <= kMaxLincombTerms, "lincomb", "terms ", d.terms, " outside [0, ", kMaxLincombTerms,
        "]");
  if (d.n == 0) return;
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_float(d.dtype, "lincomb", [&](auto tag) {
    using T = decltype(tag);
    LincombArgs<T> p{};
    p.terms = d.terms;
    for (int t = 0; t < d.terms; ++t) {
      p.x[t] = static_cast<const T*>(d.x[t]);
      p.coef[t] = d.coef[t];
    }
    lincomb_kernel<T><<<grid_for(d.n), kBlock, 0, s>>>(p, static_cast<T*>(d.y), d.n);
    SANA_CUDA_CHECK_LAUNCH("lincomb_kernel");
  });
}

void kernels<cuda_backend>::run(cuda::Context& ctx, const CopyDesc& d) {
  check(d.dst.rank >= 0 && d.dst.rank <= kMaxRank, "copy", "rank ", d.dst.rank, " outside [0, ", kMaxRank, "]");
  if (d.dst.numel() == 0) return;
  // Like the reference: walk dst's sizes, reading src through its own strides.
  const auto it = make_iter<2>(d.dst.rank, d.dst.sizes, {&d.src.strides, &d.dst.strides});
  const cudaStream_t s = cuda::stream_of(ctx);
  dispatch_any(d.src.dtype, "copy", [&](auto stag) {
    dispatch_any(d.dst.dtype, "copy", [&](auto dtag) { copy_typed<decltype(stag), decltype(dtag)>(s, d, it); });
  });
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
