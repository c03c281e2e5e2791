/// @file
/// Device queries and `cuda::Context` (stream, cuBLASLt handle, workspace, plan cache, scratch).

#include <string>
#include <utility>

#include "context_impl.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace cuda {

namespace {
/// Device count, or the runtime's error (no driver, no device) as a message.
int count_devices(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // clear the (non-sticky) error so later calls do not see it
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    return 0;
  }
  if (count == 0 && why) *why = "cudaGetDeviceCount returned 0";
  return count;
}
} // namespace

bool device_available() { return count_devices(nullptr) > 0; }

std::string device_name() {
  std::string why;
  if (count_devices(&why) == 0) fail("cuda", "no CUDA device: ", why);
  int dev = 0;
  SANA_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp prop{};
  SANA_CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  return prop.name;
}

Context::Impl::Impl(int dev) : device(dev) {
  std::string why;
  const int count = count_devices(&why);
  if (count == 0) fail("cuda", "no CUDA device: ", why);
  check(dev >= 0 && dev < count, "cuda", "device ", dev, " out of range (", count, " devices)");
  SANA_CUDA_CHECK(cudaSetDevice(dev));
  try {
    SANA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    SANA_CUBLASLT_CHECK(cublasLtCreate(&lt));
    lt_workspace = backend_traits<cuda_backend>::allocate(kLtWorkspaceBytes);
    lt_workspace_bytes = kLtWorkspaceBytes;
  } catch (...) {
    backend_traits<cuda_backend>::deallocate(lt_workspace);
    if (lt) cublasLtDestroy(lt);
    if (stream) cudaStreamDestroy(stream);
    throw;
  }
}

Context::Impl::~Impl() {
  cudaSetDevice(device);
  if (stream) cudaStreamSynchronize(stream);
  plans.clear();
  scratch_buffer.release();
  columns_buffer.release();
  backend_traits<cuda_backend>::deallocate(lt_workspace);
  if (lt) cublasLtDestroy(lt);
  if (stream) cudaStreamDestroy(stream);
}

namespace detail {
void* GrowBuffer::get(cudaStream_t stream, std::size_t need) {
  if (need <= bytes) return ptr;
  SANA_CUDA_CHECK(cudaStreamSynchronize(stream));  // the old buffer may still be read by queued work
  release();
  const std::size_t rounded = (need + 255) / 256 * 256;
  ptr = backend_traits<cuda_backend>::allocate(rounded);
  bytes = rounded;
  return ptr;
}

void GrowBuffer::release() noexcept {
  backend_traits<cuda_backend>::deallocate(ptr);
  ptr = nullptr;
  bytes = 0;
}
} // namespace detail

Context::Context(int device) : impl_(std::make_unique<Impl>(device)) {}
Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

Context::Impl& Context::impl() const {
  check(impl_ != nullptr, "cuda", "use of a moved-from Context");
  return *impl_;
}

void* Context::stream() const { return static_cast<void*>(impl().stream); }
int Context::device() const { return impl().device; }
std::size_t Context::plan_count() const { return impl().plans.size(); }

void Context::synchronize() {
  SANA_CUDA_CHECK(cudaStreamSynchronize(impl().stream));
}

} // namespace cuda
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
