/// @file
/// The latent-sized buffers one sampler step reads and writes, passed as cheap handles
/// (a `std::span`, a tensor view, ...). Samplers ignore the fields they do not need.
#pragma once

#include <cstddef>
#include <span>

#include "sana/core/config.hpp"
#include "sana/sampling/lincomb.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

/// Buffers for `solver.step(i, buffers, lincomb)`.
///
/// `x` is the sampler state and is updated in place. `model_input` is what the model was called
/// on (the same buffer as `x` unless the sampler's `model_input_scale(i)` is not 1). `velocity` is
/// the model output for step i. `history` is sampler-owned scratch that must persist between the
/// steps of one trajectory (`solver.history_size()` buffers, e.g. the DPM-Solver's past data
/// predictions). `noise` holds fresh standard-normal noise for stochastic samplers.
template <class Buffer>
struct StepBuffers {
  Buffer x;
  Buffer model_input;
  Buffer velocity;
  std::span<const Buffer> history = {};
  Buffer noise = {};
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
