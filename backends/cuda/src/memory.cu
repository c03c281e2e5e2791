/// @file
/// `backend_traits<cuda_backend>`: device allocation and host <-> device transfers.

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "context_impl.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace {
/// Every live allocation of the backend (weights, activations, workspaces, cuBLASLt buffers) and the
/// high-water mark of their sum: what `cuda::memory_stats` reports.
struct Ledger {
  std::mutex mutex;
  std::unordered_map<void*, std::size_t> live;
  std::size_t current = 0, peak = 0;
};
Ledger& ledger() {
  static Ledger l;
  return l;
}
} // namespace

namespace cuda {
MemoryStats memory_stats() {
  auto& l = ledger();
  std::lock_guard<std::mutex> lock(l.mutex);
  return {l.current, l.peak};
}

void reset_peak_memory() {
  auto& l = ledger();
  std::lock_guard<std::mutex> lock(l.mutex);
  l.peak = l.current;
}
} // namespace cuda

using Traits = backend_traits<cuda_backend>;

void* Traits::allocate(std::size_t bytes) {
  if (bytes == 0) bytes = 256;  // a zero-byte request still gets a distinct, freeable pointer
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    fail("cuda", "cudaMalloc(", bytes, " bytes) failed: ", cudaGetErrorName(e), ": ", cudaGetErrorString(e));
  }
  auto& l = ledger();
  std::lock_guard<std::mutex> lock(l.mutex);
  l.live[p] = bytes;
  l.current += bytes;
  l.peak = std::max(l.peak, l.current);
  return p;
}

void Traits::deallocate(void* p) noexcept {
  if (!p) return;
  (void)cudaFree(p);
  auto& l = ledger();
  std::lock_guard<std::mutex> lock(l.mutex);
  if (auto it = l.live.find(p); it != l.live.end()) {
    l.current -= it->second;
    l.live.erase(it);
  }
}

void Traits::upload(context_type& ctx, void* dst, const void* host_src, std::size_t bytes) {
  if (bytes == 0) return;
  const cudaStream_t s = cuda::stream_of(ctx);
  SANA_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, s));
  // The source may be pinned memory, for which the copy is truly asynchronous; wait so the caller
  // may free or reuse it on return.
  SANA_CUDA_CHECK(cudaStreamSynchronize(s));
}

void Traits::download(context_type& ctx, void* host_dst, const void* dev_src, std::size_t bytes) {
  if (bytes == 0) return;
  const cudaStream_t s = cuda::stream_of(ctx);
  SANA_CUDA_CHECK(cudaMemcpyAsync(host_dst, dev_src, bytes, cudaMemcpyDeviceToHost, s));
  SANA_CUDA_CHECK(cudaStreamSynchronize(s));
}

void Traits::synchronize(context_type& ctx) { ctx.synchronize(); }

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
