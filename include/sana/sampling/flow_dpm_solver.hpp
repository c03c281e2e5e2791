/// @file
/// Flow-DPM-Solver: DPM-Solver++ (multistep, midpoint) on the flow-matching path
/// x_σ = (1−σ)·x0 + σ·ε, as diffusers' `DPMSolverMultistepScheduler` runs it for Sana
/// (sana-spec.md §4.1), with NVlabs' original time grid as an option (§4.2).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
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

/// Last entry of the sigma table, after the N step sigmas (diffusers `final_sigmas_type`).
enum class FinalSigma {
  zero,      ///< σ_N = 0: the last step returns the data prediction (Sana's setting).
  sigma_min  ///< σ_N = sqrt(β_0 / (1−β_0)) of diffusers' linear VP table (≈ 0.0100005).
};

/// How the step sigmas and model timesteps are computed.
enum class TimeGrid {
  diffusers,  ///< float64 grid, integer-truncated timesteps t_i = ⌊1000·σ_i⌋ (SanaPipeline).
  nvlabs      ///< NVlabs `DPMS` "time_uniform_flow" grid in float32, float timesteps 1000·σ_i
              ///< (the NVlabs model truncates them itself); lower-order steps at the end for
              ///< every step count; expm1 in the coefficients.
};

/// The second-order update (diffusers `solver_type`; third order has one form).
enum class SolverType {
  midpoint,  ///< x − a·D0 − ½a·D1 (Sana's setting)
  heun       ///< x − a·D0 + α_t·((e^{−h} − 1)/h + 1)·D1
};

/// Settings of a Flow-DPM-Solver; defaults are Sana's hub `scheduler_config.json`.
struct FlowDpmSolverConfig {
  int order = 2;                ///< solver_order: 1, 2 or 3
  double shift = 3.0;           ///< flow_shift (6.0 for Sana 4K)
  bool lower_order_final = true;
  bool euler_at_final = false;
  FinalSigma final_sigma = FinalSigma::zero;
  SolverType solver_type = SolverType::midpoint;
  TimeGrid grid = TimeGrid::diffusers;
  int num_train_timesteps = 1000;
  double beta_start = 0.0001;   ///< only used by FinalSigma::sigma_min
};

/// Per-step scalars of the Flow-DPM-Solver. With D_j the data prediction of step i−j:
///   D_i     = x_i + data_from_velocity · v_i               (D = x − σ·v)
///   x_{i+1} = sample · x_i + Σ_{j<order} data[j] · D_{i−j}
struct FlowDpmStepCoefficients {
  int order = 1;          ///< order actually used at this step (1, 2 or 3)
  float sigma = 0;        ///< σ_i
  float sigma_next = 0;   ///< σ_{i+1}
  double data_from_velocity = 0;
  double sample = 0;
  std::array<double, 3> data = {0, 0, 0};
};

/// Flow-DPM-Solver. Holds only the schedule; the latent-sized state (x and the last `order`
/// data predictions) lives in caller buffers passed to `step`.
class FlowDpmSolver : public SingleEvaluation<FlowDpmSolver> {
public:
  using SingleEvaluation::step;
  static constexpr const char* name = "flow-dpm";

  explicit FlowDpmSolver(FlowDpmSolverConfig config = {}) : config_(config) {
    check(config_.order >= 1 && config_.order <= 3, name, "order must be 1, 2 or 3, got ",
          config_.order);
    check(config_.solver_type == SolverType::midpoint || config_.grid == TimeGrid::diffusers, name,
          "the heun update is diffusers' (TimeGrid::diffusers); the NVlabs grid has the midpoint one only");
    check(std::isfinite(config_.shift) && config_.shift > 0, name,
          "shift must be a positive finite number, got ", config_.shift);
    check(config_.num_train_timesteps >= 1, name, "num_train_timesteps must be >= 1, got ",
          config_.num_train_timesteps);
    check(config_.beta_start > 0 && config_.beta_start < 1, name,
          "beta_start must be in (0, 1), got ", config_.beta_start);
    check(!(config_.grid == TimeGrid::nvlabs && config_.final_sigma != FinalSigma::zero), name,
          "the nvlabs time grid always ends at sigma 0");
  }

  const FlowDpmSolverConfig& config() const { return config_; }

  /// Computes the schedule for `num_steps` steps (diffusers `set_timesteps(N)`).
  void set_timesteps(int num_steps) {
    check(num_steps >= 1, name, "number of steps must be >= 1, got ", num_steps);
    const int n = num_steps;
    const double T = config_.num_train_timesteps;
    std::vector<float> sigmas(static_cast<std::size_t>(n) + 1, 0.0f);
    std::vector<double> timesteps(static_cast<std::size_t>(n), 0.0);
    if (config_.grid == TimeGrid::diffusers) {
      // alphas = linspace(1, 1/T, n+1); s = 1 − alphas; shift; reverse; drop the trailing 0.
      const std::vector<double> alphas = numpy_linspace(1.0, 1.0 / T, n + 1);
      for (int i = 0; i < n; ++i) {
        const double s = flow_shift_f64(1.0 - alphas[static_cast<std::size_t>(n - i)], config_.shift);
        sigmas[i] = static_cast<float>(s);
        timesteps[i] = static_cast<double>(static_cast<std::int64_t>(s * T));
      }
      sigmas[n] = final_sigma();
    } else {
      // betas = linspace(1, 1/T, n+1) in float32; s = 1 − betas; shift; reverse (ends at 0).
      const std::vector<float> betas = torch_linspace_f32(1.0, 1.0 / T, n + 1);
      for (int i = 0; i <= n; ++i)
        sigmas[i] = flow_shift_f32(1.0f - betas[static_cast<std::size_t>(n - i)], config_.shift);
      for (int i = 0; i < n; ++i) timesteps[i] = sigmas[i] * static_cast<float>(T);
    }
    install(std::move(sigmas), std::move(timesteps));
  }

  /// Custom step sigmas σ_0 > … > σ_{N−1} in (0, 1]; the final sigma is appended and model
  /// timesteps are ⌊T·σ_i⌋. (diffusers 0.42.1 rejects custom schedules with flow sigmas.)
  void set_sigmas(std::span<const double> custom) {
    check(!custom.empty(), name, "custom sigmas must not be empty");
    validate_decreasing(custom, 1.0, "sigmas");
    const double T = config_.num_train_timesteps;
    std::vector<float> sigmas;
    std::vector<double> timesteps;
    for (double s : custom) {
      sigmas.push_back(static_cast<float>(s));
      timesteps.push_back(static_cast<double>(static_cast<std::int64_t>(s * T)));
    }
    sigmas.push_back(final_sigma());
    install(std::move(sigmas), std::move(timesteps));
  }

  /// Custom integer timesteps t_0 > … > t_{N−1} in (0, T]; σ_i = t_i / T.
  void set_timesteps(std::span<const std::int64_t> custom) {
    check(!custom.empty(), name, "custom timesteps must not be empty");
    std::vector<double> timesteps(custom.begin(), custom.end());
    const double T = config_.num_train_timesteps;
    validate_decreasing(timesteps, T, "timesteps");
    std::vector<float> sigmas;
    for (double t : timesteps) sigmas.push_back(static_cast<float>(t / T));
    sigmas.push_back(final_sigma());
    install(std::move(sigmas), std::move(timesteps));
  }

  int num_steps() const { return static_cast<int>(timesteps_.size()); }
  /// Model timesteps, one per step (integers stored as double for the diffusers grid).
  std::span<const double> timesteps() const { return timesteps_; }
  /// N+1 sigmas in float32, the last one the final sigma.
  std::span<const float> sigmas() const { return sigmas_; }

  /// The timestep to pass to the model at step i.
  double model_time(int i) const {
    check_index(i);
    return timesteps_[static_cast<std::size_t>(i)];
  }
  double sigma_at(int i) const {
    check_index(i);
    return sigmas_[static_cast<std::size_t>(i)];
  }
  /// The model sees x itself.
  double model_input_scale(int) const { return 1.0; }
  /// Caller buffers that must persist across steps: the last `order` data predictions.
  int history_size() const { return config_.order; }
  bool needs_noise() const { return false; }

  /// Order used at step i (diffusers' warm-up and lower_order_final rules).
  int step_order(int i) const {
    check_index(i);
    const int n = num_steps();
    const int k = config_.order;
    // σ_{i+1} = 0 makes h infinite; only the first-order update has a finite limit.
    if (sigmas_[static_cast<std::size_t>(i) + 1] == 0.0f) return 1;
    const int warm = std::min(i + 1, k);
    if (config_.grid == TimeGrid::nvlabs)
      return config_.lower_order_final ? std::min(warm, n - i) : warm;
    const bool final_low = i == n - 1 && (config_.euler_at_final ||
                                          (config_.lower_order_final && n < 15) ||
                                          config_.final_sigma == FinalSigma::zero);
    const bool second_low = i == n - 2 && config_.lower_order_final && n < 15;
    if (k == 1 || warm < 2 || final_low) return 1;
    if (k == 2 || warm < 3 || second_low) return 2;
    return 3;
  }

  /// Scalars of step i, computed in float32 as diffusers does on 0-d tensors, then expanded
  /// into one coefficient per buffer.
  FlowDpmStepCoefficients coefficients(int i) const {
    check_index(i);
    FlowDpmStepCoefficients c;
    const std::size_t u = static_cast<std::size_t>(i);
    c.order = step_order(i);
    c.sigma = sigmas_[u];
    c.sigma_next = sigmas_[u + 1];
    c.data_from_velocity = -static_cast<double>(c.sigma);
    if (c.sigma_next == 0.0f) {  // λ_{i+1} = +∞, e^{−h} = 0: x_{i+1} = D_i exactly
      c.sample = 0.0;
      c.data[0] = 1.0;
      return c;
    }
    const float lambda_t = lambda(c.sigma_next);
    const float lambda_s0 = lambda(c.sigma);
    const float alpha_t = 1.0f - c.sigma_next;
    const float h = lambda_t - lambda_s0;
    const float phi = config_.grid == TimeGrid::nvlabs ? std::expm1(-h) : std::exp(-h) - 1.0f;
    const float a = alpha_t * phi;  // α_t·(e^{−h} − 1)
    c.sample = static_cast<double>(c.sigma_next / c.sigma);
    if (c.order == 1) {
      c.data[0] = -static_cast<double>(a);
      return c;
    }
    const float lambda_s1 = lambda(sigmas_[u - 1]);
    const float h0 = lambda_s0 - lambda_s1;
    const float r0 = h0 / h;
    const double p = static_cast<double>(1.0f / r0);
    if (c.order == 2 && config_.solver_type == SolverType::heun) {
      // x − a·D0 + b·D1, b = α_t·(φ/h + 1), D1 = (D_i − D_{i−1}) / r0
      const double b = static_cast<double>(alpha_t * (phi / h + 1.0f));
      c.data[0] = -static_cast<double>(a) + b * p;
      c.data[1] = -b * p;
      return c;
    }
    if (c.order == 2) {
      // x − a·D0 − ½a·D1, D1 = (D_i − D_{i−1}) / r0
      const double half_a = static_cast<double>(0.5f * a);
      c.data[0] = -static_cast<double>(a) - half_a * p;
      c.data[1] = half_a * p;
      return c;
    }
    const float lambda_s2 = lambda(sigmas_[u - 2]);
    const float h1 = lambda_s1 - lambda_s2;
    const float r1 = h1 / h;
    const double q = static_cast<double>(1.0f / r1);
    const float r01 = r0 + r1;
    const double w = static_cast<double>(r0 / r01);
    const double v = static_cast<double>(1.0f / r01);
    const double b = static_cast<double>(alpha_t * (phi / h + 1.0f));
    const double cc = static_cast<double>(alpha_t * ((phi + h) / (h * h) - 0.5f));
    // x − a·D0 + b·D1 − cc·D2 with D1_0 = p(D_i − D_{i−1}), D1_1 = q(D_{i−1} − D_{i−2}),
    // D1 = D1_0 + w(D1_0 − D1_1), D2 = v(D1_0 − D1_1), expanded per data prediction.
    c.data[0] = -static_cast<double>(a) + b * (1.0 + w) * p - cc * v * p;
    c.data[1] = -b * ((1.0 + w) * p + w * q) + cc * v * (p + q);
    c.data[2] = b * w * q - cc * v * q;
    return c;
  }

  /// One solver step: stores D_i in `history[i % order]`, then updates `x` in place.
  /// `buffers.history` needs `history_size()` buffers that persist across the steps of one
  /// trajectory; `model_input` and `noise` are not used.
  template <class Buffer, class LincombFn>
  void step(const StepRecord& r, const StepBuffers<Buffer>& buffers, LincombFn&& lincomb) const {
    const int i = r.index;
    check_index(i);
    check(buffers.history.size() >= static_cast<std::size_t>(history_size()), name, "step needs ",
          history_size(), " history buffers, got ", buffers.history.size());
    const FlowDpmStepCoefficients c = coefficients(i);
    const auto k = static_cast<std::size_t>(config_.order);
    const auto slot = [&](int j) { return buffers.history[static_cast<std::size_t>(i - j) % k]; };
    combine(lincomb, slot(0), std::array<double, 2>{1.0, c.data_from_velocity},
                    std::array<Buffer, 2>{buffers.x, buffers.velocity});
    if (c.order == 1)
      combine(lincomb, buffers.x, std::array<double, 2>{c.sample, c.data[0]},
                      std::array<Buffer, 2>{buffers.x, slot(0)});
    else if (c.order == 2)
      combine(lincomb, buffers.x, std::array<double, 3>{c.sample, c.data[0], c.data[1]},
                      std::array<Buffer, 3>{buffers.x, slot(0), slot(1)});
    else
      combine(lincomb, buffers.x,
                      std::array<double, 4>{c.sample, c.data[0], c.data[1], c.data[2]},
                      std::array<Buffer, 4>{buffers.x, slot(0), slot(1), slot(2)});
  }

private:
  static float lambda(float sigma) { return std::log(1.0f - sigma) - std::log(sigma); }

  float final_sigma() const {
    if (config_.final_sigma == FinalSigma::zero) return 0.0f;
    // diffusers: ((1 − ᾱ_0) / ᾱ_0) ** 0.5 with ᾱ_0 = 1 − β_0, all float32.
    const float alpha_bar = 1.0f - static_cast<float>(config_.beta_start);
    return std::sqrt((1.0f - alpha_bar) / alpha_bar);
  }

  void validate_decreasing(std::span<const double> v, double upper, const char* what) const {
    for (std::size_t k = 0; k < v.size(); ++k) {
      check(std::isfinite(v[k]) && v[k] > 0 && v[k] <= upper, name, "custom ", what,
            " must be in (0, ", upper, "], got ", v[k], " at index ", k);
      check(k == 0 || v[k] < v[k - 1], name, "custom ", what,
            " must be strictly decreasing, got ", v[k - 1], " then ", v[k], " at index ", k);
    }
  }

  /// Every step must move to a strictly smaller float32 sigma (h > 0); keeps the old schedule
  /// when the new one is rejected.
  void install(std::vector<float> sigmas, std::vector<double> timesteps) {
    for (std::size_t k = 1; k < sigmas.size(); ++k)
      check(sigmas[k] < sigmas[k - 1], name, "sigmas are not strictly decreasing in float32 at ",
            "index ", k, " (", sigmas[k - 1], " then ", sigmas[k],
            "): too many steps, or a final sigma above the last step sigma");
    sigmas_ = std::move(sigmas);
    timesteps_ = std::move(timesteps);
  }

  void check_index(int i) const { detail::check_step_index(name, num_steps(), i); }

  FlowDpmSolverConfig config_;
  std::vector<float> sigmas_;
  std::vector<double> timesteps_;
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
