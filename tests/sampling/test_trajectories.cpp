// Whole trajectories against diffusers 0.42.1: the same initial latents and per-step model
// outputs (and per-step noise for SCM) must give the same latents after every step, in float32,
// within 1e-6 relative.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "sampling/fixtures.hpp"
#include "sana/sampling.hpp"

namespace ss = sana::sampling;
using sampling_test::floats;
using sampling_test::load_cases;
using Span = std::span<float>;

namespace {

/// Relative error of one latent, max_j |a_j − b_j| / max_j |b_j|. Norm-wise rather than
/// element-wise: diffusers rounds after every tensor op while a lincomb rounds once, so an
/// element that lands near zero by cancellation keeps an absolute error of a few ulps of the
/// terms that cancelled, which no element-wise bound can absorb.
double relative_error(std::span<const float> a, std::span<const float> b) {
  double scale = 0, worst = 0;
  for (std::size_t j = 0; j < a.size(); ++j) {
    scale = std::max(scale, static_cast<double>(std::fabs(b[j])));
    worst = std::max(worst, std::fabs(static_cast<double>(a[j]) - b[j]));
  }
  return worst / scale;
}

struct Fixture {
  std::string name;
  std::string sampler;
  std::vector<float> latents;
  std::vector<std::vector<float>> model_outputs, noise, expected;
};

std::vector<Fixture> fixtures() {
  std::vector<Fixture> out;
  for (const auto& c : load_cases("trajectories.json")) {
    Fixture f{c.at("name"), c.at("sampler"), floats(c.at("latents")), {}, {}, {}};
    for (const auto& v : c.at("model_outputs")) f.model_outputs.push_back(floats(v));
    for (const auto& v : c.at("expected")) f.expected.push_back(floats(v));
    if (c.contains("noise"))
      for (const auto& v : c.at("noise")) f.noise.push_back(floats(v));
    out.push_back(std::move(f));
  }
  return out;
}

ss::FlowDpmSolver make_dpm(const nlohmann::json& c) {
  ss::FlowDpmSolverConfig cfg;
  cfg.order = c.at("order");
  cfg.shift = c.at("shift");
  cfg.final_sigma = c.value("final", std::string("zero")) == "zero" ? ss::FinalSigma::zero
                                                                     : ss::FinalSigma::sigma_min;
  cfg.euler_at_final = c.value("euler_at_final", false);
  cfg.solver_type = c.value("solver_type", std::string("midpoint")) == "heun" ? ss::SolverType::heun
                                                                              : ss::SolverType::midpoint;
  ss::FlowDpmSolver s(cfg);
  s.set_timesteps(c.at("steps").get<int>());
  return s;
}

ss::FlowEuler make_euler(const nlohmann::json& c) {
  ss::FlowEuler s({.shift = c.at("shift").get<double>()});
  s.set_timesteps(c.at("steps").get<int>());
  return s;
}

ss::ScmSolver make_scm(const nlohmann::json& c) {
  ss::ScmSolver s;
  if (c.contains("angles"))
    s.set_angles(sampling_test::doubles(c.at("angles")));
  else
    s.set_timesteps(c.at("steps").get<int>());
  return s;
}

/// Runs `solver` step by step on the fixture; returns the worst relative error over all steps.
template <class Solver>
double run_steps(const Solver& solver, const Fixture& f) {
  const std::size_t n = f.latents.size();
  std::vector<float> x = f.latents, input(n), velocity(n), noise(n);
  std::vector<std::vector<float>> history(static_cast<std::size_t>(solver.history_size()),
                                          std::vector<float>(n));
  std::vector<Span> history_spans(history.begin(), history.end());
  REQUIRE(solver.num_steps() == static_cast<int>(f.model_outputs.size()));
  double worst = 0;
  for (int i = 0; i < solver.num_steps(); ++i) {
    const auto u = static_cast<std::size_t>(i);
    velocity = f.model_outputs[u];
    if (!f.noise.empty()) noise = f.noise[u];
    ss::StepBuffers<Span> b{x, x, velocity, history_spans, noise};
    if (solver.model_input_scale(i) != 1.0) {
      for (std::size_t j = 0; j < n; ++j)
        input[j] = static_cast<float>(solver.model_input_scale(i) * x[j]);
      b.model_input = input;
    }
    solver.step(i, b, ss::SpanLincomb{});
    const double err = relative_error(x, f.expected[u]);
    INFO(f.name << " step " << i << " relative error " << err);
    CHECK(err <= 1e-6);
    worst = std::max(worst, err);
  }
  return worst;
}

} // namespace

TEST_CASE("trajectories match diffusers within 1e-6 relative", "[sampling][parity]") {
  const auto cases = load_cases("trajectories.json");
  const auto fx = fixtures();
  double overall = 0;
  for (std::size_t k = 0; k < fx.size(); ++k) {
    const auto& c = cases[k];
    const auto& f = fx[k];
    double worst = 0;
    if (f.sampler == "flow-dpm")
      worst = run_steps(make_dpm(c), f);
    else if (f.sampler == "flow-euler")
      worst = run_steps(make_euler(c), f);
    else
      worst = run_steps(make_scm(c), f);
    std::printf("  %-40s steps %3zu  max relative error %.3g\n", f.name.c_str(),
                f.model_outputs.size(), worst);
    overall = std::max(overall, worst);
  }
  std::printf("  overall max relative error %.3g\n", overall);
}

TEST_CASE("the generic driver reproduces the step-by-step trajectory", "[sampling]") {
  const auto cases = load_cases("trajectories.json");
  const auto fx = fixtures();
  for (std::size_t k = 0; k < fx.size(); ++k) {
    const auto& f = fx[k];
    INFO(f.name);
    std::vector<float> x = f.latents;
    auto velocity = [&](int i, double, std::span<float>, std::span<float> out) {
      std::copy(f.model_outputs[static_cast<std::size_t>(i)].begin(),
                f.model_outputs[static_cast<std::size_t>(i)].end(), out.begin());
    };
    auto noise = [&](int i, std::span<float> out) {
      std::copy(f.noise[static_cast<std::size_t>(i)].begin(),
                f.noise[static_cast<std::size_t>(i)].end(), out.begin());
    };
    if (f.sampler == "flow-dpm")
      ss::sample(make_dpm(cases[k]), velocity, std::span<float>(x));
    else if (f.sampler == "flow-euler")
      ss::sample(make_euler(cases[k]), velocity, std::span<float>(x));
    else
      ss::sample(make_scm(cases[k]), velocity, std::span<float>(x), noise);
    CHECK(relative_error(x, f.expected.back()) <= 1e-6);
  }
}
