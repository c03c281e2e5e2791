/// @file
/// `StepGraph<B>`: runs the same piece of backend work again and again — one denoising step's model
/// evaluation — and lets a backend that can record work replay the recording instead of issuing every
/// op from the host each time. The primary template simply runs the work (host backends gain nothing
/// from recording); the CUDA backend specialises it with CUDA graphs (sana/backends/cuda/graph.hpp).
///
/// What the work must satisfy for a recording to be valid: it reads and writes the same memory every
/// time (fixed buffers, a settled Workspace), allocates nothing, never waits for the host (no upload,
/// download or synchronize) and makes the same host decisions. Whatever changes between runs (the
/// timestep's conditioning, the sampler's coefficients) is copied into the fixed buffers or done outside.
#pragma once

#include <string>
#include <utility>

#include "sana/backend/traits.hpp"
#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

template <class B>
class StepGraph {
public:
  /// Runs `work()` now.
  template <class Work>
  void run(context_t<B>&, Work&& work) {
    std::forward<Work>(work)();
  }
  /// Forget any recording (the work or its buffers changed).
  void reset() {}
  /// Whether runs replay a recording; false for backends that do not record.
  bool replaying() const { return false; }
  /// Why recording is off, when a backend that can record does not.
  const std::string& note() const { return note_; }

private:
  std::string note_;
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
