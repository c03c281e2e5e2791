/// @file
/// `cuda::Context::Impl`: the stream, the cuBLASLt handle and workspace, the GEMM plan cache and a
/// grow-only scratch buffer. Internal to the backend sources (includes CUDA headers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "check.hpp"
#include "sana/backends/cuda/cuda.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda {
namespace detail {

/// Everything that selects a cuBLASLt plan. Pointers enter only through their alignment.
struct GemmPlanKey {
  std::int64_t batch = 0, m = 0, n = 0, k = 0;
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  std::int32_t dtype = 0;
  std::int32_t epilogue = 0;  // cublasLtEpilogue_t
  std::int32_t align_a = 0, align_b = 0, align_c = 0, align_bias = 0;
  bool trans_a = false, trans_b = false;
  bool d_f32 = false;  // D written as fp32 (the intermediate of the unfused path)

  bool operator==(const GemmPlanKey&) const = default;
};

struct GemmPlanKeyHash {
  std::size_t operator()(const GemmPlanKey& k) const noexcept {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](std::uint64_t v) {
      h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    };
    for (std::int64_t v : {k.batch, k.m, k.n, k.k, k.lda, k.ldb, k.ldc, k.stride_a, k.stride_b, k.stride_c})
      mix(static_cast<std::uint64_t>(v));
    for (std::int32_t v : {k.dtype, k.epilogue, k.align_a, k.align_b, k.align_c, k.align_bias})
      mix(static_cast<std::uint64_t>(static_cast<std::uint32_t>(v)));
    mix((k.trans_a ? 1u : 0u) | (k.trans_b ? 2u : 0u) | (k.d_f32 ? 4u : 0u));
    return static_cast<std::size_t>(h);
  }
};

/// A matmul descriptor, its three layouts (C and D share one) and the algorithm the heuristic chose.
struct GemmPlan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  std::size_t workspace_bytes = 0;

  GemmPlan() = default;
  GemmPlan(const GemmPlan&) = delete;
  GemmPlan& operator=(const GemmPlan&) = delete;
  ~GemmPlan() {
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

/// A grow-only device buffer: `get` returns at least `bytes`, reallocating only to grow — and then only
/// after the stream has drained, so a buffer still read by queued work is never freed.
struct GrowBuffer {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  void* get(cudaStream_t stream, std::size_t need);
  void release() noexcept;
};

} // namespace detail

struct Context::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* lt_workspace = nullptr;
  std::size_t lt_workspace_bytes = 0;
  std::unordered_map<detail::GemmPlanKey, std::unique_ptr<detail::GemmPlan>, detail::GemmPlanKeyHash> plans;
  detail::GrowBuffer scratch_buffer, columns_buffer;

  static constexpr std::size_t kLtWorkspaceBytes = std::size_t{32} << 20;

  explicit Impl(int dev);
  ~Impl();
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  /// A device buffer of at least `bytes`, valid until the next call (grows by reallocating after a
  /// stream synchronization, so a buffer still in use by queued work is never freed).
  void* scratch(std::size_t bytes) { return scratch_buffer.get(stream, bytes); }
  /// A second such buffer, for the im2col columns of convolutions run as GEMMs (the GEMM itself may use
  /// `scratch` meanwhile).
  void* columns(std::size_t bytes) { return columns_buffer.get(stream, bytes); }
};

/// The context's stream, for kernel launchers.
inline cudaStream_t stream_of(const Context& ctx) { return ctx.impl().stream; }

} // namespace cuda
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
