/// @file
/// SCM / TrigFlow sampler of Sana-Sprint: diffusers' `SCMScheduler(prediction_type="trigflow")`
/// together with the TrigFlow ↔ flow conversion that `SanaSprintPipeline` wraps around the
/// model (sana-spec.md §4.4).
///
/// The state is kept in units of σ_data (y = x / σ_data, so it starts as plain N(0, I) noise and
/// ends as the latent the pipeline decodes); since the pipeline's σ_data = 0.5 is a power of two
/// this is exact. At step i with angles s = s_i, s' = s_{i+1}:
///   τ = sin s / (sin s + cos s),  c = sqrt(τ² + (1−τ)²)
///   u = c·y                                   (model input, flow time τ)
///   F = ((1−2τ)·u + (1−2τ+2τ²)·v) / c          (v = model velocity)
///   y0 = cos s·y − sin s·F,   y ← cos s'·y0 + sin s'·ε   (ε fresh N(0, I) noise)
/// The last step leaves the denoised y0 in the state (what the pipeline returns), whatever the
/// final angle.
#pragma once

#include <array>
#include <cmath>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/sampling/sampler.hpp"
#include "sana/sampling/schedule.hpp"
#include "sana/sampling/step_buffers.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

/// Settings of the SCM sampler; defaults are Sana-Sprint's.
struct ScmConfig {
  double max_angle = 1.57080;  ///< s_0 (slightly above π/2, as diffusers)
  /// s_1 for the 2-step schedule [max, intermediate, 0]; other step counts use
  /// linspace(max, 0, N+1). (diffusers raises when it is set and N ≠ 2.)
  std::optional<double> intermediate_angle = 1.3;
};

/// Per-step scalars of the SCM sampler, float32 as diffusers computes them.
struct ScmStepCoefficients {
  float angle = 0;       ///< s_i
  float angle_next = 0;  ///< s_{i+1}
  float tau = 0;         ///< flow time given to the model
  float input_scale = 0; ///< c: model input u = c·y
  double denoised_state = 0;     ///< y0 = denoised_state·y + denoised_input·u + denoised_velocity·v
  double denoised_input = 0;
  double denoised_velocity = 0;
  double renoise_denoised = 0;   ///< y_{i+1} = renoise_denoised·y0 + renoise_noise·ε
  double renoise_noise = 0;
  bool last = false;             ///< the last step keeps y0
};

/// SCM (sCM / TrigFlow) few-step sampler. Holds only the angle schedule; per-step noise comes
/// from the caller (`StepBuffers::noise`), so no RNG lives here.
class ScmSolver : public SingleEvaluation<ScmSolver> {
public:
  using SingleEvaluation::step;
  static constexpr const char* name = "scm";
  /// Largest accepted angle: diffusers' default start 1.57080 (just above π/2).
  static constexpr double angle_limit = 1.5708;

  explicit ScmSolver(ScmConfig config = {}) : config_(config) {
    check(std::isfinite(config_.max_angle) && config_.max_angle > 0 &&
              config_.max_angle <= angle_limit,
          name, "max_angle must be in (0, ", angle_limit, "], got ", config_.max_angle);
    if (config_.intermediate_angle)
      check(*config_.intermediate_angle > 0 && *config_.intermediate_angle < config_.max_angle,
            name, "intermediate_angle must be in (0, max_angle), got ", *config_.intermediate_angle);
  }

  const ScmConfig& config() const { return config_; }

  /// Default schedule for N steps (float32 angles, as the torch tensors).
  void set_timesteps(int num_steps) {
    check(num_steps >= 1, name, "number of steps must be >= 1, got ", num_steps);
    if (num_steps == 2 && config_.intermediate_angle)
      angles_ = {static_cast<float>(config_.max_angle),
                 static_cast<float>(*config_.intermediate_angle), 0.0f};
    else
      angles_ = torch_linspace_f32(config_.max_angle, 0.0, num_steps + 1);
  }

  /// Custom angles s_0 > … > s_N ≥ 0 (N+1 values; diffusers' `timesteps=` argument).
  void set_angles(std::span<const double> angles) {
    check(angles.size() >= 2, name, "custom angles need N+1 >= 2 values, got ", angles.size());
    std::vector<float> a;
    for (std::size_t k = 0; k < angles.size(); ++k) {
      check(std::isfinite(angles[k]) && angles[k] >= 0 && angles[k] <= angle_limit, name,
            "custom angles must be in [0, ", angle_limit, "], got ", angles[k], " at index ", k);
      a.push_back(static_cast<float>(angles[k]));
      check(k == 0 || a[k] < a[k - 1], name, "custom angles must be strictly decreasing, got ",
            angles[k - 1], " then ", angles[k], " at index ", k);
    }
    angles_ = std::move(a);
  }

  int num_steps() const { return angles_.empty() ? 0 : static_cast<int>(angles_.size()) - 1; }
  /// N+1 angles (diffusers' `scheduler.timesteps`).
  std::span<const float> angles() const { return angles_; }

  /// Flow time τ_i passed to the model.
  double model_time(int i) const { return coefficients(i).tau; }
  /// The flow time τ_i stands for σ (the model sees u at flow time τ).
  double sigma_at(int i) const { return coefficients(i).tau; }
  /// The model sees u = c·y, not the state itself.
  double model_input_scale(int i) const { return coefficients(i).input_scale; }
  int history_size() const { return 0; }
  bool needs_noise() const { return true; }

  ScmStepCoefficients coefficients(int i) const {
    check(!angles_.empty(), name, "call set_timesteps before stepping");
    check(i >= 0 && i < num_steps(), name, "step index ", i, " out of range [0, ", num_steps(),
          ")");
    ScmStepCoefficients c;
    const std::size_t u = static_cast<std::size_t>(i);
    c.angle = angles_[u];
    c.angle_next = angles_[u + 1];
    c.last = i == num_steps() - 1;
    const float sin_s = std::sin(c.angle);
    const float cos_s = std::cos(c.angle);
    c.tau = sin_s / (cos_s + sin_s);
    const float one_minus = 1.0f - c.tau;
    c.input_scale = std::sqrt(c.tau * c.tau + one_minus * one_minus);
    const float a_input = 1.0f - 2.0f * c.tau;
    const float a_velocity = a_input + 2.0f * (c.tau * c.tau);
    const double k = static_cast<double>(sin_s) / static_cast<double>(c.input_scale);
    c.denoised_state = cos_s;
    c.denoised_input = -k * a_input;
    c.denoised_velocity = -k * a_velocity;
    c.renoise_denoised = std::cos(c.angle_next);
    c.renoise_noise = std::sin(c.angle_next);
    return c;
  }

  /// One step. `buffers.model_input` must hold u = c·y the model was called on (the driver
  /// writes it), `buffers.noise` fresh N(0, I) noise (ignored at the last step).
  template <class Buffer, class LincombFn>
  void step(const StepRecord& r, const StepBuffers<Buffer>& buffers, LincombFn&& lincomb) const {
    const ScmStepCoefficients c = coefficients(r.index);
    combine(lincomb, buffers.x,
                    std::array<double, 3>{c.denoised_state, c.denoised_input, c.denoised_velocity},
                    std::array<Buffer, 3>{buffers.x, buffers.model_input, buffers.velocity});
    if (!c.last)
      combine(lincomb, buffers.x,
                      std::array<double, 2>{c.renoise_denoised, c.renoise_noise},
                      std::array<Buffer, 2>{buffers.x, buffers.noise});
  }

private:
  ScmConfig config_;
  std::vector<float> angles_;
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
