/// @file
/// The backends this program was compiled with (reference always; oneDNN and CUDA when their libraries are
/// linked, which defines SANA_WITH_ONEDNN / SANA_WITH_CUDA), whether each can run here, and one shared
/// context per backend. For benchmarks and tests that run the same code on every backend.
#pragma once

#include <tuple>
#include <type_traits>

#include "sana/backend/reference/kernels.hpp"
#include "sana/core/config.hpp"

#ifdef SANA_WITH_ONEDNN
#include "sana/backends/onednn/onednn.hpp"
#endif
#ifdef SANA_WITH_CUDA
#include "sana/backends/cuda/cuda.hpp"
#endif

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace bench {

using CompiledBackends = std::tuple<
#ifdef SANA_WITH_ONEDNN
    onednn_backend,
#endif
#ifdef SANA_WITH_CUDA
    cuda_backend,
#endif
    reference_backend>;

/// Whether backend B can run here (a CUDA build on a machine without a GPU cannot).
template <class B>
bool backend_available() {
#ifdef SANA_WITH_CUDA
  if constexpr (std::is_same_v<B, cuda_backend>) return cuda::device_available();
#endif
  return true;
}

/// One context per backend for the whole program.
template <class B>
context_t<B>& shared_context() {
  static context_t<B> ctx;
  return ctx;
}

/// fn(B{}) for every compiled backend.
template <class Fn>
void for_each_backend(Fn&& fn) {
  std::apply([&](auto... tags) { (fn(tags), ...); }, CompiledBackends{});
}

} // namespace bench
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
