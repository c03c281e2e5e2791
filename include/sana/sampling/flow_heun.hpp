/// @file
/// Flow-Heun: diffusers' `FlowMatchHeunDiscreteScheduler(shift)` (its defaults s_churn = 0, i.e.
/// deterministic). The schedule is Flow-Euler's (same double shift); every step but the last
/// evaluates the model twice:
///   stage 0 at (x_i, σ_i):          x̃ = x_i + dt·v₁,                dt = σ_{i+1} − σ_i
///   stage 1 at (x̃, σ_{i+1}):        x_{i+1} = x_i + dt·(v₁ + v₂)/2
/// and the last step (to σ = 0) is one Euler update, as diffusers' interleaved timesteps
/// [t₀, t₁, t₁, …, t_{N−1}, t_{N−1}] make it: 2N − 1 model evaluations for N steps.
#pragma once

#include <array>
#include <cmath>
#include <span>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/sampling/flow_euler.hpp"
#include "sana/sampling/lincomb.hpp"
#include "sana/sampling/sampler.hpp"
#include "sana/sampling/step_buffers.hpp"
#include "sana/sampling/step_record.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

/// Settings of a Flow-Heun sampler (the two fields of diffusers' config).
struct FlowHeunConfig {
  double shift = 1.0;  ///< diffusers' default; Sana's schedulers use 3.0
  int num_train_timesteps = 1000;
};

/// Second-order Heun sampler on the flow ODE. Holds only the schedule; the first stage's state and
/// velocity wait in two history buffers for the second.
class FlowHeun {
public:
  static constexpr const char* name = "flow-heun";

  explicit FlowHeun(FlowHeunConfig config = {})
      : config_(validated(config)), schedule_(FlowEulerConfig{config.shift, config.num_train_timesteps}) {}

  const FlowHeunConfig& config() const { return config_; }

  /// diffusers `set_timesteps(N)`: Flow-Euler's N sigmas and timesteps, each but the first used twice.
  void set_timesteps(int num_steps) { schedule_.set_timesteps(num_steps); }
  /// Custom sigmas (shifted like Flow-Euler's).
  void set_sigmas(std::span<const double> sigmas) { schedule_.set_sigmas(sigmas); }

  int num_steps() const { return schedule_.num_steps(); }
  /// N+1 sigmas, the last one 0 (diffusers' table without the repeats).
  std::span<const float> sigmas() const { return schedule_.sigmas(); }
  /// N timesteps (diffusers' table without the repeats).
  std::span<const float> timesteps() const { return schedule_.timesteps(); }

  /// Two evaluations per step, one for the final step to σ = 0 (Heun's corrector would divide by it).
  int num_stages(int i) const {
    check_index(i);
    return i + 1 < num_steps() ? 2 : 1;
  }
  StepRecord record(int i, int stage) const {
    const int stages = num_stages(i);
    check(stage >= 0 && stage < stages, name, "stage ", stage, " out of range [0, ", stages, ") at step ", i);
    const std::size_t at = static_cast<std::size_t>(i + stage);  // stage 1 sees the predictor's σ_{i+1}
    return {i, stage, stages, sigmas()[at], timesteps()[at], 1.0};
  }
  int history_size() const { return 2; }
  bool needs_noise() const { return false; }

  template <class Buffer, class LincombFn>
  void step(const StepRecord& r, const StepBuffers<Buffer>& buffers, LincombFn&& lincomb) const {
    check(buffers.history.size() >= 2, name, "step needs 2 history buffers, got ", buffers.history.size());
    const std::size_t u = static_cast<std::size_t>(r.index);
    const double dt = static_cast<double>(sigmas()[u + 1] - sigmas()[u]);  // float32, as diffusers
    const Buffer& x0 = buffers.history[0];
    const Buffer& v1 = buffers.history[1];
    if (r.stages == 1) {  // final Euler step
      combine(lincomb, buffers.x, std::array<double, 2>{1.0, dt}, std::array<Buffer, 2>{buffers.x, buffers.velocity});
    } else if (r.stage == 0) {
      combine(lincomb, x0, std::array<double, 1>{1.0}, std::array<Buffer, 1>{buffers.x});
      combine(lincomb, v1, std::array<double, 1>{1.0}, std::array<Buffer, 1>{buffers.velocity});
      combine(lincomb, buffers.x, std::array<double, 2>{1.0, dt}, std::array<Buffer, 2>{buffers.x, buffers.velocity});
    } else {
      combine(lincomb, buffers.x, std::array<double, 3>{1.0, 0.5 * dt, 0.5 * dt},
              std::array<Buffer, 3>{x0, v1, buffers.velocity});
    }
  }

private:
  static FlowHeunConfig validated(const FlowHeunConfig& c) {
    check(std::isfinite(c.shift) && c.shift > 0, name, "shift must be a positive finite number, got ", c.shift);
    check(c.num_train_timesteps >= 1, name, "num_train_timesteps must be >= 1, got ", c.num_train_timesteps);
    return c;
  }

  void check_index(int i) const { detail::check_step_index(name, num_steps(), i); }

  FlowHeunConfig config_;
  FlowEuler schedule_;  ///< the sigmas and timesteps (diffusers computes them the same way)
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
