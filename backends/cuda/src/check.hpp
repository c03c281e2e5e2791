/// @file
/// Status checks for CUDA runtime and cuBLASLt calls. Every call in the backend goes through one of
/// these macros, which throw `sana::error` naming the call, the error and the source line.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda::detail {

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* call, const char* file, int line) {
  fail("cuda", call, " failed: ", cudaGetErrorName(e), ": ", cudaGetErrorString(e), " (", file, ":", line, ")");
}
[[noreturn]] inline void throw_cublaslt(cublasStatus_t s, const char* call, const char* file, int line) {
  fail("cublasLt", call, " failed: ", cublasLtGetStatusName(s), ": ", cublasLtGetStatusString(s), " (", file, ":",
       line, ")");
}

/// The CUDA kernels take NCHW maps only (the DC-AE keeps NCHW on this backend): a channels-last
/// descriptor, which only a caller forcing that format can build, is an error naming the op.
inline void require_nchw(bool channels_last, const char* op) {
  check(!channels_last, op, "channels-last maps are not implemented on the CUDA backend (use NCHW)");
}

} // namespace cuda::detail
} // namespace SANA_ABI_NAMESPACE
} // namespace sana

#define SANA_CUDA_CHECK(call)                                                          \
  do {                                                                                 \
    const cudaError_t sana_cuda_err_ = (call);                                         \
    if (sana_cuda_err_ != cudaSuccess)                                                 \
      ::sana::cuda::detail::throw_cuda(sana_cuda_err_, #call, __FILE__, __LINE__);     \
  } while (0)

#define SANA_CUBLASLT_CHECK(call)                                                      \
  do {                                                                                 \
    const cublasStatus_t sana_lt_status_ = (call);                                     \
    if (sana_lt_status_ != CUBLAS_STATUS_SUCCESS)                                      \
      ::sana::cuda::detail::throw_cublaslt(sana_lt_status_, #call, __FILE__, __LINE__); \
  } while (0)

/// After a kernel launch: reports a bad launch configuration (asynchronous faults surface at the
/// next synchronizing call).
#define SANA_CUDA_CHECK_LAUNCH(kernel_name)                                                      \
  do {                                                                                           \
    const cudaError_t sana_cuda_err_ = cudaGetLastError();                                       \
    if (sana_cuda_err_ != cudaSuccess)                                                           \
      ::sana::cuda::detail::throw_cuda(sana_cuda_err_, "launch of " kernel_name, __FILE__, __LINE__); \
  } while (0)
