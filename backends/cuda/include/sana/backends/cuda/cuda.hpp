/// @file
/// The CUDA backend (target `sana::cuda`): its context, its `backend_traits` and its `kernels` table.
/// Host-only: this header includes no CUDA header, so programs that use the backend compile with any
/// C++20 host compiler. The kernels themselves live in backends/cuda/src and are compiled into the
/// library; every entry point below is an ordinary, non-template function taking a descriptor.
///
/// All ops are asynchronous on the context's stream. `download` and `synchronize` wait for it.
/// Errors (bad descriptors, failed CUDA or cuBLASLt calls) throw `sana::error` with a
/// "[cuda]", "[cublasLt]" or "[<op>]" prefix.
#pragma once

#ifndef SANA_WITH_CUDA
#error "link sana::cuda to use the CUDA backend"
#endif

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "sana/backend/descriptors.hpp"
#include "sana/backend/descriptors_dit.hpp"
#include "sana/backend/descriptors_dcae.hpp"
#include "sana/backend/descriptors_text.hpp"
#include "sana/backend/tags.hpp"
#include "sana/backend/traits.hpp"
#include "sana/core/error.hpp"
#include "sana/core/memory_space.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda {

/// True when the CUDA runtime finds at least one usable device (false, not an exception, without
/// a driver or a GPU).
bool device_available();

/// Name of the current device, e.g. "NVIDIA H100 80GB HBM3". Throws "[cuda] no CUDA device: ..." without one.
std::string device_name();

/// Device memory the backend holds (every allocation through it: weights, activations, workspaces, the
/// cuBLASLt workspace and scratch), now and at its high-water mark since the last reset_peak_memory().
struct MemoryStats {
  std::size_t current = 0, peak = 0;
};
MemoryStats memory_stats();
void reset_peak_memory();

/// Per-thread state of the CUDA backend: a device, a non-blocking stream, a cuBLASLt handle, the
/// cuBLASLt workspace and a cache of GEMM plans keyed by (shapes, strides, dtype, epilogue, alignment).
/// Move-only. A Context is not thread-safe: use one per host thread.
class Context {
public:
  using backend_type = cuda_backend;
  /// Selects `device`, creates the stream and the cuBLASLt handle and allocates the workspace.
  /// Throws "[cuda] no CUDA device: ..." when there is none.
  explicit Context(int device = 0);
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  /// The `cudaStream_t` every op of this context is queued on, as an opaque pointer.
  void* stream() const;
  /// The device ordinal this context was created for.
  int device() const;
  /// Waits for everything queued on the stream; rethrows an asynchronous kernel error as "[cuda] ...".
  void synchronize();
  /// Number of GEMM plans (cuBLASLt descriptors + chosen algorithm) cached so far.
  std::size_t plan_count() const;

  /// Backend internals (defined in backends/cuda/src/context_impl.hpp).
  struct Impl;
  Impl& impl() const;

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace cuda

template <>
struct backend_traits<cuda_backend> {
  using context_type = cuda::Context;
  using space = device_space;
  static constexpr std::string_view name = "cuda";
  /// cudaMalloc on the current device (256-byte aligned); throws "[cuda] ..." when it fails.
  static void* allocate(std::size_t bytes);
  /// cudaFree (which waits for the device); errors are ignored.
  static void deallocate(void* p) noexcept;
  /// Host -> device on the context's stream; returns once `host_src` may be reused.
  static void upload(context_type& ctx, void* dst, const void* host_src, std::size_t bytes);
  /// Device -> host on the context's stream; waits, so `host_dst` holds the data on return.
  static void download(context_type& ctx, void* host_dst, const void* dev_src, std::size_t bytes);
  static void synchronize(context_type& ctx);
};

/// The CUDA op table. Semantics are exactly the descriptors' (descriptors.hpp); accumulation is fp32
/// and results are rounded once, to nearest even, to the output dtype.
template <>
struct kernels<cuda_backend> {
  /// cuBLASLt (fp32 compute, no TF32). Bias, bias+ReLU and bias+GELU(tanh) fuse into cuBLASLt's
  /// epilogue; SiLU, and any activation with beta != 0, run as a follow-up kernel.
  static void run(cuda::Context& ctx, const GemmDesc& d);
  /// Direct convolution (NCHW, OIHW), groups / stride / padding / dilation, bias and activation fused.
  static void run(cuda::Context& ctx, const Conv2dDesc& d);
  /// Broadcasting element-wise add / sub / mul / div over any strides.
  static void run(cuda::Context& ctx, const BinaryDesc& d);
  /// y = act(x) over n contiguous elements (in place allowed).
  static void run(cuda::Context& ctx, const ActivationDesc& d);
  static void run(cuda::Context& ctx, const ClampDesc& d);
  /// y = sum_i coef[i] x[i] over n contiguous elements (y may alias any x[i]).
  static void run(cuda::Context& ctx, const LincombDesc& d);
  /// Strided copy with dtype conversion between any two dtypes.
  static void run(cuda::Context& ctx, const CopyDesc& d);
  // Linear-DiT family (descriptors_dit.hpp), backends/cuda/src/dit.cu.
  static void run(cuda::Context& ctx, const ModulatedLayerNormDesc& d);
  static void run(cuda::Context& ctx, const RmsNormDesc& d);
  static void run(cuda::Context& ctx, const LinearAttentionDesc& d);
  static void run(cuda::Context& ctx, const SoftmaxDesc& d);
  static void run(cuda::Context& ctx, const DepthwiseGluDesc& d);
  static void run(cuda::Context& ctx, const GatedResidualDesc& d);
  /// DC-AE family (dcae.cu): channel RMSNorm, eval BatchNorm, multi-scale linear attention, nearest x2,
  /// pixel (un)shuffle with channel repeat / average, SiLU GLU.
  static void run(cuda::Context& ctx, const ChannelRmsNormDesc& d);
  static void run(cuda::Context& ctx, const BatchNormDesc& d);
  static void run(cuda::Context& ctx, const MultiscaleAttentionDesc& d);
  static void run(cuda::Context& ctx, const UpsampleNearest2xDesc& d);
  static void run(cuda::Context& ctx, const PixelShuffleDesc& d);
  static void run(cuda::Context& ctx, const GluDesc& d);
  /// Text encoder (descriptors_text.hpp): embedding rows · scale (an out-of-range id gives a NaN row),
  /// Gemma RMSNorm, rotate-half RoPE, soft-capped masked attention softmax.
  static void run(cuda::Context& ctx, const EmbeddingLookupDesc& d);
  static void run(cuda::Context& ctx, const GemmaRmsNormDesc& d);
  static void run(cuda::Context& ctx, const RotaryEmbeddingDesc& d);
  static void run(cuda::Context& ctx, const AttentionSoftmaxDesc& d);
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana

// Every translation unit that sees cuda_backend also sees its StepGraph specialisation (one definition).
#include "sana/backends/cuda/graph.hpp"
