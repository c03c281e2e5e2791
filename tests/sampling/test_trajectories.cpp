// Whole trajectories against diffusers 0.42.1: the same initial latents and per-evaluation model
// outputs (and per-step noise for SCM) must give the same latents after every model evaluation
// (every step; both stages of a Heun step), in float32, within 1e-6 relative
// (5e-6 for third-order UniPC with B(h) = h, see below).
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
  std::vector<std::vector<float>> model_outputs, noise, expected;  ///< expected: empty where diffusers has NaN
  std::vector<float> expected_limit;  ///< the finite limit we compute there instead
  double tolerance = 1e-6;
};

std::vector<Fixture> fixtures() {
  std::vector<Fixture> out;
  for (const auto& c : load_cases("trajectories.json")) {
    Fixture f{c.at("name"), c.at("sampler"), floats(c.at("latents")), {}, {}, {}};
    for (const auto& v : c.at("model_outputs")) f.model_outputs.push_back(floats(v));
    for (const auto& v : c.at("expected")) f.expected.push_back(v.is_null() ? std::vector<float>{} : floats(v));
    if (c.contains("expected_limit")) f.expected_limit = floats(c.at("expected_limit"));
    // UniPC's B(h) = h recurrences cancel in float32 (φ₁/h − 1 ≈ h/2, then again): diffusers' own
    // third-order coefficients carry ~4e-5 relative noise from one ulp of expm1, which reaches the
    // latents as ~3e-6.
    if (c.value("order", 0) == 3 && c.value("solver_type", std::string()) == "bh1") f.tolerance = 5e-6;
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

ss::FlowHeun make_heun(const nlohmann::json& c) {
  ss::FlowHeun s({.shift = c.at("shift").get<double>()});
  s.set_timesteps(c.at("steps").get<int>());
  return s;
}

ss::FlowUniPc make_unipc(const nlohmann::json& c) {
  ss::FlowUniPcConfig cfg;
  cfg.order = c.at("order");
  cfg.shift = c.at("shift");
  cfg.variant = c.value("solver_type", std::string("bh2")) == "bh1" ? ss::UniPcVariant::bh1 : ss::UniPcVariant::bh2;
  if (c.contains("disable_corrector")) cfg.disable_corrector = c.at("disable_corrector").get<std::vector<int>>();
  ss::FlowUniPc s(cfg);
  s.set_timesteps(c.at("steps").get<int>());
  return s;
}

/// The fixture's latents after evaluation e, or the finite limit where diffusers computes NaN.
const std::vector<float>& expected_at(const Fixture& f, std::size_t e) {
  return f.expected[e].empty() ? f.expected_limit : f.expected[e];
}

/// Runs `solver` evaluation by evaluation on the fixture, calling `step` by hand; returns the
/// worst relative error over all evaluations.
template <class Solver>
double run_evaluations(const Solver& solver, const Fixture& f) {
  const std::size_t n = f.latents.size();
  std::vector<float> x = f.latents, input(n), velocity(n), noise(n);
  std::vector<std::vector<float>> history(static_cast<std::size_t>(solver.history_size()),
                                          std::vector<float>(n));
  std::vector<Span> history_spans(history.begin(), history.end());
  REQUIRE(ss::num_evaluations(solver) == static_cast<int>(f.model_outputs.size()));
  double worst = 0;
  std::size_t e = 0;
  for (int i = 0; i < solver.num_steps(); ++i)
    for (int k = 0; k < solver.num_stages(i); ++k, ++e) {
      const ss::StepRecord r = solver.record(i, k);
      velocity = f.model_outputs[e];
      if (!f.noise.empty()) noise = f.noise[static_cast<std::size_t>(i)];
      ss::StepBuffers<Span> b{x, x, velocity, history_spans, noise};
      if (r.input_scale != 1.0) {
        for (std::size_t j = 0; j < n; ++j) input[j] = static_cast<float>(r.input_scale * x[j]);
        b.model_input = input;
      }
      solver.step(r, b, ss::SpanLincomb{});
      const double err = relative_error(x, expected_at(f, e));
      INFO(f.name << " step " << i << " stage " << k << " relative error " << err);
      CHECK(err <= f.tolerance);
      worst = std::max(worst, err);
    }
  return worst;
}

/// Calls `fn(sampler)` with the fixture case's sampler.
template <class Fn>
auto with_sampler(const nlohmann::json& c, const std::string& sampler, Fn&& fn) {
  if (sampler == "flow-dpm") return fn(make_dpm(c));
  if (sampler == "flow-euler") return fn(make_euler(c));
  if (sampler == "flow-heun") return fn(make_heun(c));
  if (sampler == "flow-unipc") return fn(make_unipc(c));
  return fn(make_scm(c));
}

} // namespace

TEST_CASE("trajectories match diffusers within 1e-6 relative", "[sampling][parity]") {
  const auto cases = load_cases("trajectories.json");
  const auto fx = fixtures();
  double overall = 0;
  for (std::size_t k = 0; k < fx.size(); ++k) {
    const auto& c = cases[k];
    const auto& f = fx[k];
    const double worst = with_sampler(c, f.sampler, [&](const auto& s) { return run_evaluations(s, f); });
    std::printf("  %-40s evaluations %3zu  max relative error %.3g\n", f.name.c_str(),
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
    // The model callback counts evaluations through the records it is handed.
    std::size_t e = 0;
    int last_step = -1, last_stage = -1;
    auto velocity = [&](const ss::StepRecord& r, std::span<float>, std::span<float> out) {
      CHECK((r.index > last_step || (r.index == last_step && r.stage == last_stage + 1)));
      last_step = r.index;
      last_stage = r.stage;
      std::copy(f.model_outputs[e].begin(), f.model_outputs[e].end(), out.begin());
      ++e;
    };
    auto noise = [&](int i, std::span<float> out) {
      std::copy(f.noise[static_cast<std::size_t>(i)].begin(),
                f.noise[static_cast<std::size_t>(i)].end(), out.begin());
    };
    with_sampler(cases[k], f.sampler, [&](const auto& s) {
      if (s.needs_noise()) ss::sample(s, velocity, std::span<float>(x), noise);
      else ss::sample(s, velocity, std::span<float>(x));
      return 0;
    });
    CHECK(e == f.model_outputs.size());
    CHECK(relative_error(x, expected_at(f, f.expected.size() - 1)) <= f.tolerance);
  }
}
