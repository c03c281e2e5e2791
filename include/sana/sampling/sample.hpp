/// @file
/// The generic sampling loop: calls the model for every evaluation the sampler describes (one
/// per step, or several for Heun-type samplers) and lets the sampler update the state through
/// the caller's linear-combination function. Works for any buffer type.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <span>
#include <type_traits>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/sampling/lincomb.hpp"
#include "sana/sampling/sampler.hpp"
#include "sana/sampling/step_buffers.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

/// Default noise argument for the ODE samplers, which draw none; SCM without a noise function fails clearly.
struct NoNoise {
  template <class Buffer>
  void operator()(int, const Buffer&) const {
    fail("sample", "this sampler needs per-step noise: pass a noise function");
  }
};

namespace detail {
/// The model callback takes the evaluation's record; the older (step, model_time, in, out) form
/// is accepted too.
template <class VelocityFn, class Buffer>
void call_model(VelocityFn& velocity, const StepRecord& r, const Buffer& in, const Buffer& out) {
  if constexpr (std::is_invocable_v<VelocityFn&, const StepRecord&, const Buffer&, const Buffer&>)
    velocity(r, in, out);
  else
    velocity(r.index, r.model_time, in, out);
}
} // namespace detail

/// True when some evaluation feeds the model a rescaled copy of the state.
template <Sampler S>
bool needs_separate_input(const S& sampler) {
  for (int i = 0; i < sampler.num_steps(); ++i)
    for (int k = 0; k < sampler.num_stages(i); ++k)
      if (sampler.record(i, k).input_scale != 1.0) return true;
  return false;
}

/// Number of model evaluations of the whole schedule (Σ_i num_stages(i)).
template <Sampler S>
int num_evaluations(const S& sampler) {
  int n = 0;
  for (int i = 0; i < sampler.num_steps(); ++i) n += sampler.num_stages(i);
  return n;
}

/// Number of latent-sized workspace buffers `sample` needs for `sampler`: velocity, then the
/// model input (when the model does not see the state itself), then noise, then the history.
template <Sampler S>
int workspace_buffers(const S& sampler) {
  return 1 + (needs_separate_input(sampler) ? 1 : 0) + (sampler.needs_noise() ? 1 : 0) +
         sampler.history_size();
}

/// Runs all steps of `sampler` (after its set_timesteps) on the state `x`, in place.
///
/// - `velocity(record, model_input, out)` writes the model's flow velocity for `model_input` at
///   `record.model_time` into `out` (apply guidance inside it); `record` says which step and
///   stage this is and its σ. (The form `velocity(step, model_time, model_input, out)` works too.)
/// - `lincomb(out, coeffs, inputs)` is the linear combination (see Lincomb).
/// - `workspace` holds at least `workspace_buffers(sampler)` distinct latent-sized buffers.
/// - `noise(step, out)` fills `out` with standard-normal noise; called once per step, before the
///   step's first `step` call, for samplers that need it (including the last step, whose draw is
///   unused, to keep the caller's generator in step with diffusers).
template <Sampler S, class Buffer, class VelocityFn, class LincombFn, class NoiseFn = NoNoise>
void sample(const S& sampler, VelocityFn&& velocity, const Buffer& x, LincombFn&& lincomb,
            std::span<const Buffer> workspace, NoiseFn&& noise = {}) {
  const int steps = sampler.num_steps();
  check(steps > 0, "sample", "the sampler has no steps: call set_timesteps first");
  const bool separate_input = needs_separate_input(sampler);
  const std::size_t needed = static_cast<std::size_t>(workspace_buffers(sampler));
  check(workspace.size() >= needed, "sample", "needs ", needed, " workspace buffers, got ",
        workspace.size());
  std::size_t next = 0;
  StepBuffers<Buffer> buffers{x, x, workspace[next++]};
  if (separate_input) buffers.model_input = workspace[next++];
  if (sampler.needs_noise()) buffers.noise = workspace[next++];
  buffers.history = workspace.subspan(next, static_cast<std::size_t>(sampler.history_size()));

  for (int i = 0; i < steps; ++i) {
    const int stages = sampler.num_stages(i);
    check(stages >= 1, "sample", "step ", i, " has ", stages, " model evaluations");
    for (int k = 0; k < stages; ++k) {
      const StepRecord r = sampler.record(i, k);
      if (separate_input)
        combine(lincomb, buffers.model_input, std::array<double, 1>{r.input_scale}, std::array<Buffer, 1>{x});
      detail::call_model(velocity, r, separate_input ? buffers.model_input : x, buffers.velocity);
      if (k == 0 && sampler.needs_noise()) noise(i, buffers.noise);
      sampler.step(r, buffers, lincomb);
    }
  }
}

/// Convenience overload for host spans: allocates the workspace and uses SpanLincomb.
template <Sampler S, class T, class VelocityFn, class NoiseFn = NoNoise>
  requires std::is_floating_point_v<T>
void sample(const S& sampler, VelocityFn&& velocity, std::span<T> x, NoiseFn&& noise = {}) {
  const int n = workspace_buffers(sampler);
  std::vector<std::vector<T>> storage(static_cast<std::size_t>(n), std::vector<T>(x.size()));
  std::vector<std::span<T>> workspace(storage.begin(), storage.end());
  sample(sampler, velocity, x, SpanLincomb{}, std::span<const std::span<T>>(workspace), noise);
}

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
