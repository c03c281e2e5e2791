/// @file
/// Flow-Euler: x_{i+1} = x_i + (σ_{i+1} − σ_i)·v_i, with the schedule of diffusers'
/// `FlowMatchEulerDiscreteScheduler(shift)` (sana-spec.md §4.3), including its double shift:
/// the training table is shifted once, and the inference sigmas drawn from its range are
/// shifted again.
#pragma once

#include <array>
#include <cmath>
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

/// Settings of a Flow-Euler sampler.
struct FlowEulerConfig {
  double shift = 3.0;
  int num_train_timesteps = 1000;
};

/// Per-step scalars: x_{i+1} = x_i + dt · v_i.
struct FlowEulerStepCoefficients {
  float sigma = 0;
  float sigma_next = 0;
  float dt = 0;  ///< σ_{i+1} − σ_i in float32
};

/// Flow-matching Euler sampler. Holds only the schedule.
class FlowEuler : public SingleEvaluation<FlowEuler> {
public:
  using SingleEvaluation::step;
  static constexpr const char* name = "flow-euler";

  explicit FlowEuler(FlowEulerConfig config = {}) : config_(config) {
    check(std::isfinite(config_.shift) && config_.shift > 0, name,
          "shift must be a positive finite number, got ", config_.shift);
    check(config_.num_train_timesteps >= 1, name, "num_train_timesteps must be >= 1, got ",
          config_.num_train_timesteps);
    // Training table σ_k = shift(k/T), k = T…1, in float32; only its ends are used.
    const float T = static_cast<float>(config_.num_train_timesteps);
    sigma_max_ = flow_shift_f32(T / T, config_.shift);
    sigma_min_ = flow_shift_f32(1.0f / T, config_.shift);
  }

  const FlowEulerConfig& config() const { return config_; }
  float sigma_max() const { return sigma_max_; }
  float sigma_min() const { return sigma_min_; }

  /// diffusers `set_timesteps(N)`: t = linspace(T·σ_max, T·σ_min, N) (float64),
  /// σ = shift(t/T) (float64, second shift) → float32, timesteps = T·σ in float32.
  void set_timesteps(int num_steps) {
    check(num_steps >= 1, name, "number of steps must be >= 1, got ", num_steps);
    const double T = config_.num_train_timesteps;
    const std::vector<double> t = numpy_linspace(static_cast<double>(sigma_max_) * T,
                                                 static_cast<double>(sigma_min_) * T, num_steps);
    std::vector<float> sigmas;
    for (double tk : t) sigmas.push_back(static_cast<float>(flow_shift_f64(tk / T, config_.shift)));
    install(std::move(sigmas), {});
  }

  /// Custom sigmas in (0, 1], strictly decreasing; diffusers shifts them too (in float32).
  void set_sigmas(std::span<const double> custom) {
    validate(custom, 1.0, "sigmas");
    std::vector<float> sigmas;
    for (double s : custom) sigmas.push_back(flow_shift_f32(static_cast<float>(s), config_.shift));
    install(std::move(sigmas), {});
  }

  /// Custom timesteps in (0, T], strictly decreasing: used as given for the model, while the
  /// sigmas are shift(t/T) in float32 (diffusers warns that the two may disagree).
  void set_timesteps(std::span<const double> custom) {
    validate(custom, config_.num_train_timesteps, "timesteps");
    const float T = static_cast<float>(config_.num_train_timesteps);
    std::vector<float> sigmas;
    std::vector<float> timesteps;
    for (double t : custom) {
      timesteps.push_back(static_cast<float>(t));
      sigmas.push_back(flow_shift_f32(static_cast<float>(t) / T, config_.shift));
    }
    install(std::move(sigmas), std::move(timesteps));
  }

  int num_steps() const { return static_cast<int>(timesteps_.size()); }
  std::span<const float> timesteps() const { return timesteps_; }
  /// N+1 sigmas, the last one 0.
  std::span<const float> sigmas() const { return sigmas_; }

  double model_time(int i) const {
    check_index(i);
    return timesteps_[static_cast<std::size_t>(i)];
  }
  double sigma_at(int i) const {
    check_index(i);
    return sigmas_[static_cast<std::size_t>(i)];
  }
  double model_input_scale(int) const { return 1.0; }
  int history_size() const { return 0; }
  bool needs_noise() const { return false; }

  FlowEulerStepCoefficients coefficients(int i) const {
    check_index(i);
    const std::size_t u = static_cast<std::size_t>(i);
    return {sigmas_[u], sigmas_[u + 1], sigmas_[u + 1] - sigmas_[u]};
  }

  /// x ← x + dt·v, in place.
  template <class Buffer, class LincombFn>
  void step(const StepRecord& r, const StepBuffers<Buffer>& buffers, LincombFn&& lincomb) const {
    const FlowEulerStepCoefficients c = coefficients(r.index);
    combine(lincomb, buffers.x, std::array<double, 2>{1.0, static_cast<double>(c.dt)},
                    std::array<Buffer, 2>{buffers.x, buffers.velocity});
  }

private:
  void validate(std::span<const double> v, double upper, const char* what) const {
    check(!v.empty(), name, "custom ", what, " must not be empty");
    for (std::size_t k = 0; k < v.size(); ++k) {
      check(std::isfinite(v[k]) && v[k] > 0 && v[k] <= upper, name, "custom ", what,
            " must be in (0, ", upper, "], got ", v[k], " at index ", k);
      check(k == 0 || v[k] < v[k - 1], name, "custom ", what,
            " must be strictly decreasing, got ", v[k - 1], " then ", v[k], " at index ", k);
    }
  }

  /// Appends the final 0 and, unless given, derives the timesteps as T·σ in float32.
  void install(std::vector<float> sigmas, std::vector<float> timesteps) {
    if (timesteps.empty())
      for (float s : sigmas) timesteps.push_back(s * static_cast<float>(config_.num_train_timesteps));
    sigmas.push_back(0.0f);
    for (std::size_t k = 1; k < sigmas.size(); ++k)
      check(sigmas[k] < sigmas[k - 1], name, "sigmas are not strictly decreasing in float32 at ",
            "index ", k, " (", sigmas[k - 1], " then ", sigmas[k], ")");
    sigmas_ = std::move(sigmas);
    timesteps_ = std::move(timesteps);
  }

  void check_index(int i) const { detail::check_step_index(name, num_steps(), i); }

  FlowEulerConfig config_;
  float sigma_max_ = 1;
  float sigma_min_ = 0;
  std::vector<float> sigmas_;
  std::vector<float> timesteps_;
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
