/// @file
/// `StepRecord`: where a sampling loop stands at one model evaluation. The sampler describes each
/// evaluation with one (`Sampler::record`), the driver hands it to the model callback and back to
/// the sampler's `step`, so samplers that evaluate the model several times per step (Heun) are
/// described by the same record as single-evaluation ones.
#pragma once

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

/// One model evaluation of a sampling loop.
struct StepRecord {
  int index = 0;           ///< step i in [0, num_steps())
  int stage = 0;           ///< evaluation within step i, in [0, stages)
  int stages = 1;          ///< evaluations step i makes (Heun: 2, except its final Euler step)
  double sigma = 0;        ///< noise level of the state the model sees (flow σ; SCM: its flow time τ)
  double model_time = 0;   ///< the timestep the model is conditioned on
  double input_scale = 1;  ///< the model sees input_scale · x (1: the state itself)

  /// True for the evaluation that completes step `index` (callbacks run after it).
  bool completes_step() const { return stage == stages - 1; }
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
