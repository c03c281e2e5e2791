// Built against sana::sampling alone (no sana::sana, no tensor core, no backend): samples a
// 1-D Gaussian with each sampler through the umbrella header and checks the results.
#include <cmath>
#include <cstdio>
#include <span>
#include <vector>

#include "sana/sampling.hpp"

namespace ss = sana::sampling;

namespace {
// Data N(mu, s²) under x_t = (1−t)·x0 + t·ε has the exact velocity
// v(x, t) = (x − μ)·(t − (1−t)s²)/((1−t)²s² + t²) − μ.
constexpr double mu = 0.7, s2 = 0.25;
double exact_velocity(double x, double t) {
  const double var = (1 - t) * (1 - t) * s2 + t * t;
  return (t - (1 - t) * s2) / var * (x - (1 - t) * mu) - mu;
}
// The ODE map pushes ε to μ + s·ε.
double exact_endpoint(double eps) { return mu + std::sqrt(s2) * eps; }

template <class Solver>
double max_error(const Solver& solver, const std::vector<float>& eps) {
  std::vector<float> x = eps;
  // The flow velocity at the step's sigma (σ is the flow time t).
  auto v = [&](int i, double, std::span<float> in, std::span<float> out) {
    const double t = solver.sigmas()[static_cast<std::size_t>(i)];
    for (std::size_t j = 0; j < in.size(); ++j) out[j] = static_cast<float>(exact_velocity(in[j], t));
  };
  ss::sample(solver, v, std::span<float>(x));
  double err = 0;
  for (std::size_t j = 0; j < x.size(); ++j)
    err = std::fmax(err, std::fabs(x[j] - exact_endpoint(eps[j])));
  return err;
}
} // namespace

int main() {
  std::vector<float> eps;
  for (int j = -8; j <= 8; ++j) eps.push_back(0.25f * static_cast<float>(j));

  ss::FlowDpmSolver dpm;
  dpm.set_timesteps(20);
  ss::FlowEuler euler;
  euler.set_timesteps(50);
  const double e_dpm = max_error(dpm, eps);
  const double e_euler = max_error(euler, eps);
  std::printf("flow-dpm 20 steps: max error %.3g\nflow-euler 50 steps: max error %.3g\n", e_dpm,
              e_euler);

  // SCM with a zero-velocity stand-in model and zero noise just exercises the plumbing.
  ss::ScmSolver scm;
  scm.set_timesteps(2);
  std::vector<float> x = eps;
  ss::sample(
      scm, [](int, double, std::span<float>, std::span<float> out) {
        for (float& o : out) o = 0.0f;
      },
      std::span<float>(x), [](int, std::span<float> out) {
        for (float& o : out) o = 0.0f;
      });

  // Loose bounds: this checks the plumbing; examples/gaussian_mixture measures convergence.
  const bool ok = e_dpm < 0.05 && e_euler < 0.1 && std::isfinite(x[0]);
  std::printf("%s\n", ok ? "standalone sampling OK" : "standalone sampling FAILED");
  return ok ? 0 : 1;
}
