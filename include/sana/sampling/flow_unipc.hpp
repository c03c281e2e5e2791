/// @file
/// Flow-UniPC: diffusers' `UniPCMultistepScheduler` with `use_flow_sigmas=True`,
/// `prediction_type="flow_prediction"`, `predict_x0=True` — the unified predictor-corrector
/// (UniP-B(h) + UniC) on the flow path x_σ = (1−σ)·x0 + σ·ε, one model evaluation per step:
///   D_i = x_i − σ_i·v_i                                   (data prediction)
///   x_i ← UniC(x_{i−1}, D_{i−1}, …, D_i)                  (corrector, i > 0 unless disabled)
///   x_{i+1} = UniP(x_i, D_i, D_{i−1}, …)                  (predictor)
/// The scalar coefficients are computed in float32 as diffusers computes them on 0-d tensors
/// (λ = log α − log σ, expm1, the B(h) recurrences, a float32 solve for ρ). The schedule is
/// sigmas = shift(linspace(1, 1/T, N+1)[:-1]) in float64 (σ₀ nudged to 1 − 10⁻⁶), timesteps ⌊T·σ⌋.
#pragma once

#include <array>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/sampling/lincomb.hpp"
#include "sana/sampling/sampler.hpp"
#include "sana/sampling/schedule.hpp"
#include "sana/sampling/step_buffers.hpp"
#include "sana/sampling/step_record.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

/// B(h) of the UniPC update (diffusers `solver_type`).
enum class UniPcVariant {
  bh1,  ///< B(h) = h (recommended by the UniPC authors for unconditional sampling)
  bh2   ///< B(h) = e^h − 1 (diffusers' default)
};

/// Settings of a Flow-UniPC sampler; defaults are diffusers' except the flow shift (Sana's 3.0).
struct FlowUniPcConfig {
  int order = 2;  ///< solver_order: 1, 2 or 3
  double shift = 3.0;
  UniPcVariant variant = UniPcVariant::bh2;
  bool lower_order_final = true;
  std::vector<int> disable_corrector = {};  ///< steps whose result is not corrected (diffusers' list)
  int num_train_timesteps = 1000;
};

/// Coefficients of one UniPC update over its buffers, in float32 arithmetic then widened.
struct FlowUniPcStepCoefficients {
  int corrector_order = 0;  ///< 0: no corrector at this step
  double corrector_last = 0;                      ///< on the previous step's (corrected) state
  std::array<double, 4> corrector_data = {};      ///< on D_i, D_{i−1}, D_{i−2}, D_{i−3}
  int predictor_order = 1;
  double predictor_state = 0;                     ///< on the corrected x_i
  std::array<double, 3> predictor_data = {};      ///< on D_i, D_{i−1}, D_{i−2}
};

class FlowUniPc {
public:
  static constexpr const char* name = "flow-unipc";

  explicit FlowUniPc(FlowUniPcConfig config = {}) : config_(std::move(config)) {
    check(config_.order >= 1 && config_.order <= 3, name, "order must be 1, 2 or 3, got ", config_.order);
    check(std::isfinite(config_.shift) && config_.shift > 0, name, "shift must be a positive finite number, got ",
          config_.shift);
    check(config_.num_train_timesteps >= 1, name, "num_train_timesteps must be >= 1, got ", config_.num_train_timesteps);
    // Without lower_order_final the last step reaches σ = 0 with a multistep update whose h is infinite
    // (diffusers computes NaN there).
    check(config_.lower_order_final || config_.order == 1, name,
          "lower_order_final = false with order > 1 ends at sigma 0 with an undefined update (NaN in diffusers)");
  }

  const FlowUniPcConfig& config() const { return config_; }

  void set_timesteps(int num_steps) {
    check(num_steps >= 1, name, "number of steps must be >= 1, got ", num_steps);
    const double T = config_.num_train_timesteps;
    const std::vector<double> grid = numpy_linspace(1.0, 1.0 / T, num_steps + 1);
    std::vector<double> s;
    for (int i = 0; i < num_steps; ++i) s.push_back(flow_shift_f64(grid[static_cast<std::size_t>(i)], config_.shift));
    if (std::fabs(s[0] - 1.0) < 1e-6) s[0] -= 1e-6;
    std::vector<float> sigmas;
    std::vector<double> timesteps;
    for (double v : s) {
      sigmas.push_back(static_cast<float>(v));
      timesteps.push_back(static_cast<double>(static_cast<std::int64_t>(v * T)));
    }
    sigmas.push_back(0.0f);
    for (std::size_t k = 1; k < sigmas.size(); ++k)
      check(sigmas[k] < sigmas[k - 1], name, "sigmas are not strictly decreasing in float32 at index ", k,
            ": too many steps");
    sigmas_ = std::move(sigmas);
    timesteps_ = std::move(timesteps);
  }

  int num_steps() const { return static_cast<int>(timesteps_.size()); }
  std::span<const float> sigmas() const { return sigmas_; }
  std::span<const double> timesteps() const { return timesteps_; }

  int num_stages(int i) const {
    check_index(i);
    return 1;
  }
  StepRecord record(int i, int stage) const {
    check_index(i);
    check(stage == 0, name, "stage ", stage, " out of range [0, 1) at step ", i);
    return {i, 0, 1, sigmas_[static_cast<std::size_t>(i)], timesteps_[static_cast<std::size_t>(i)], 1.0};
  }
  /// order + 1 data predictions (the corrector reads D_i … D_{i−order}) and the previous state.
  int history_size() const { return config_.order + 2; }
  bool needs_noise() const { return false; }

  /// Order of step i's predictor (diffusers' warm-up and lower_order_final rules).
  int step_order(int i) const {
    check_index(i);
    const int o = config_.lower_order_final ? std::min(config_.order, num_steps() - i) : config_.order;
    return std::min(o, i + 1);
  }

  FlowUniPcStepCoefficients coefficients(int i) const {
    check_index(i);
    FlowUniPcStepCoefficients c;
    const bool disabled = std::find(config_.disable_corrector.begin(), config_.disable_corrector.end(), i - 1) !=
                          config_.disable_corrector.end();
    if (i > 0 && !disabled) {
      c.corrector_order = step_order(i - 1);
      const Update u = update(i - 1, c.corrector_order, true);
      c.corrector_last = u.state;
      std::copy(u.data.begin(), u.data.end(), c.corrector_data.begin());
    }
    c.predictor_order = step_order(i);
    const Update u = update(i, c.predictor_order, false);
    c.predictor_state = u.state;
    std::copy(u.data.begin(), u.data.begin() + 3, c.predictor_data.begin());
    return c;
  }

  /// Buffers: history[0 … order] hold D by step (ring), history[order + 1] the previous state.
  template <class Buffer, class LincombFn>
  void step(const StepRecord& r, const StepBuffers<Buffer>& buffers, LincombFn&& lincomb) const {
    check(buffers.history.size() >= static_cast<std::size_t>(history_size()), name, "step needs ", history_size(),
          " history buffers, got ", buffers.history.size());
    const int i = r.index;
    const FlowUniPcStepCoefficients c = coefficients(i);
    const std::size_t ring = static_cast<std::size_t>(config_.order + 1);
    const auto data = [&](int j) { return buffers.history[static_cast<std::size_t>(i - j) % ring]; };  // D_{i−j}
    const Buffer& last = buffers.history[ring];
    combine(lincomb, data(0), std::array<double, 2>{1.0, -static_cast<double>(sigmas_[static_cast<std::size_t>(i)])},
            std::array<Buffer, 2>{buffers.x, buffers.velocity});
    if (c.corrector_order > 0) {
      Terms<Buffer, 5> t;
      t.add(c.corrector_last, last);
      for (int j = 0; j <= c.corrector_order; ++j) t.add(c.corrector_data[static_cast<std::size_t>(j)], data(j));
      t.write(lincomb, buffers.x);
    }
    if (i + 1 < num_steps()) combine(lincomb, last, std::array<double, 1>{1.0}, std::array<Buffer, 1>{buffers.x});
    Terms<Buffer, 4> t;
    t.add(c.predictor_state, buffers.x);
    for (int j = 0; j < c.predictor_order; ++j) t.add(c.predictor_data[static_cast<std::size_t>(j)], data(j));
    t.write(lincomb, buffers.x);
  }

private:
  /// An update from step s (σ_s) to σ_{s+1}: on the state at s and on D_{s+1} (corrector only), D_s, D_{s−1}, …
  struct Update {
    double state = 0;
    std::array<double, 4> data = {};  ///< corrector: D_{s+1}, D_s, D_{s−1}, D_{s−2}; predictor: D_s, D_{s−1}, D_{s−2}
  };

  static float lambda(float sigma) { return std::log(1.0f - sigma) - std::log(sigma); }

  /// diffusers' multistep_uni_p_bh_update (corrector = false) / multistep_uni_c_bh_update (true) at order `o`.
  Update update(int s, int o, bool corrector) const {
    const std::size_t u = static_cast<std::size_t>(s);
    const float sigma_s0 = sigmas_[u], sigma_t = sigmas_[u + 1];
    Update out;
    if (sigma_t == 0.0f) {  // λ_t = +∞: x_{s+1} = D_s exactly (the limit; only first order reaches here)
      out.data[corrector ? 1 : 0] = 1.0;
      return out;
    }
    const float alpha_t = 1.0f - sigma_t;
    const float lambda_s0 = lambda(sigma_s0);
    const float h = lambda(sigma_t) - lambda_s0;
    std::array<float, 3> rks{};
    for (int k = 1; k < o; ++k) rks[static_cast<std::size_t>(k - 1)] = (lambda(sigmas_[u - static_cast<std::size_t>(k)]) - lambda_s0) / h;
    rks[static_cast<std::size_t>(o - 1)] = 1.0f;
    const float hh = -h;
    const float h_phi_1 = std::expm1(hh);
    float h_phi_k = h_phi_1 / hh - 1.0f;
    const float b_h = config_.variant == UniPcVariant::bh1 ? hh : std::expm1(hh);
    std::array<std::array<float, 3>, 3> R{};
    std::array<float, 3> b{};
    int factorial = 1;
    for (int m = 1; m <= o; ++m) {
      for (int k = 0; k < o; ++k)
        R[static_cast<std::size_t>(m - 1)][static_cast<std::size_t>(k)] = std::pow(rks[static_cast<std::size_t>(k)], static_cast<float>(m - 1));
      b[static_cast<std::size_t>(m - 1)] = h_phi_k * static_cast<float>(factorial) / b_h;
      factorial *= m + 1;
      h_phi_k = h_phi_k / hh - static_cast<float>(1.0 / factorial);
    }
    const double g = static_cast<double>(alpha_t * b_h);
    const double a = static_cast<double>(alpha_t * h_phi_1);
    out.state = static_cast<double>(sigma_t / sigma_s0);
    const std::size_t base = corrector ? 1 : 0;  // index of D_s in out.data
    out.data[base] = -a;
    // ρ: the corrector solves the full o×o system (½ at first order), the predictor the leading (o−1)×(o−1) (½ at o = 2).
    std::array<float, 3> rho{};
    const int n = corrector ? o : o - 1;
    if (n >= 1) {
      if ((corrector && o == 1) || (!corrector && o == 2)) rho[0] = 0.5f;
      else rho = solve(R, b, n);
    }
    for (int k = 1; k < o; ++k) {  // D1_k = (D_{s−k} − D_s) / r_k
      const double w = g * static_cast<double>(rho[static_cast<std::size_t>(k - 1)]) / static_cast<double>(rks[static_cast<std::size_t>(k - 1)]);
      out.data[base + static_cast<std::size_t>(k)] -= w;
      out.data[base] += w;
    }
    if (corrector) {  // ρ_last · (D_{s+1} − D_s)
      const double w = g * static_cast<double>(rho[static_cast<std::size_t>(o - 1)]);
      out.data[0] -= w;
      out.data[1] += w;
    }
    return out;
  }

  /// The n×n leading system R·ρ = b in float32, Gaussian elimination with partial pivoting (n ≤ 3).
  static std::array<float, 3> solve(std::array<std::array<float, 3>, 3> R, std::array<float, 3> b, int n) {
    for (int col = 0; col < n; ++col) {
      int pivot = col;
      for (int r = col + 1; r < n; ++r)
        if (std::fabs(R[static_cast<std::size_t>(r)][static_cast<std::size_t>(col)]) >
            std::fabs(R[static_cast<std::size_t>(pivot)][static_cast<std::size_t>(col)]))
          pivot = r;
      std::swap(R[static_cast<std::size_t>(col)], R[static_cast<std::size_t>(pivot)]);
      std::swap(b[static_cast<std::size_t>(col)], b[static_cast<std::size_t>(pivot)]);
      const float d = R[static_cast<std::size_t>(col)][static_cast<std::size_t>(col)];
      check(d != 0.0f && std::isfinite(d), name, "singular UniPC system (two steps with the same sigma)");
      for (int r = col + 1; r < n; ++r) {
        const float f = R[static_cast<std::size_t>(r)][static_cast<std::size_t>(col)] / d;
        for (int k = col; k < n; ++k)
          R[static_cast<std::size_t>(r)][static_cast<std::size_t>(k)] -= f * R[static_cast<std::size_t>(col)][static_cast<std::size_t>(k)];
        b[static_cast<std::size_t>(r)] -= f * b[static_cast<std::size_t>(col)];
      }
    }
    std::array<float, 3> x{};
    for (int r = n - 1; r >= 0; --r) {
      float acc = b[static_cast<std::size_t>(r)];
      for (int k = r + 1; k < n; ++k) acc -= R[static_cast<std::size_t>(r)][static_cast<std::size_t>(k)] * x[static_cast<std::size_t>(k)];
      x[static_cast<std::size_t>(r)] = acc / R[static_cast<std::size_t>(r)][static_cast<std::size_t>(r)];
    }
    return x;
  }

  void check_index(int i) const { detail::check_step_index(name, num_steps(), i); }

  FlowUniPcConfig config_;
  std::vector<float> sigmas_;
  std::vector<double> timesteps_;
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
