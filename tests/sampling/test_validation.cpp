// Invalid inputs throw sana::error with the sampler's name in brackets.
#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <vector>

#include "sana/sampling.hpp"

namespace ss = sana::sampling;
using Catch::Matchers::Contains;

TEST_CASE("flow-dpm rejects invalid settings and inputs", "[sampling]") {
  CHECK_THROWS_WITH(ss::FlowDpmSolver({.order = 4}), Contains("[flow-dpm]") && Contains("order"));
  CHECK_THROWS_WITH(ss::FlowDpmSolver({.shift = -1.0}), Contains("[flow-dpm]") && Contains("shift"));
  CHECK_THROWS_AS(ss::FlowDpmSolver({.shift = 0.0}), sana::error);
  ss::FlowDpmSolver s;
  CHECK_THROWS_WITH(s.set_timesteps(0), Contains("[flow-dpm]") && Contains("steps"));
  CHECK_THROWS_WITH(s.coefficients(0), Contains("set_timesteps"));
  s.set_timesteps(5);
  CHECK_THROWS_WITH(s.coefficients(5), Contains("[flow-dpm]") && Contains("out of range"));
  CHECK_THROWS_AS(s.coefficients(-1), sana::error);
  const std::vector<double> rising = {0.5, 0.7};
  CHECK_THROWS_WITH(s.set_sigmas(rising), Contains("strictly decreasing"));
  const std::vector<double> too_big = {1.5, 0.7};
  CHECK_THROWS_WITH(s.set_sigmas(too_big), Contains("(0, 1]"));
  const std::vector<std::int64_t> flat = {900, 900};
  CHECK_THROWS_AS(s.set_timesteps(std::span<const std::int64_t>(flat)), sana::error);
  CHECK(s.num_steps() == 5);  // a rejected schedule leaves the old one in place

  std::vector<float> x(4), v(4);
  ss::StepBuffers<std::span<float>> b{x, x, v};
  CHECK_THROWS_WITH(s.step(0, b, ss::SpanLincomb{}), Contains("history"));
}

TEST_CASE("flow-euler and scm reject invalid settings and inputs", "[sampling]") {
  CHECK_THROWS_WITH(ss::FlowEuler({.shift = -3.0}), Contains("[flow-euler]"));
  ss::FlowEuler e;
  CHECK_THROWS_WITH(e.set_timesteps(-2), Contains("[flow-euler]"));
  e.set_timesteps(3);
  CHECK_THROWS_WITH(e.coefficients(3), Contains("out of range"));
  const std::vector<double> rising = {0.2, 0.4};
  CHECK_THROWS_AS(e.set_sigmas(rising), sana::error);

  CHECK_THROWS_WITH(ss::ScmSolver({.max_angle = 2.0}), Contains("[scm]"));
  ss::ScmSolver scm;
  CHECK_THROWS_WITH(scm.set_timesteps(0), Contains("[scm]"));
  const std::vector<double> one = {1.0};
  CHECK_THROWS_WITH(scm.set_angles(one), Contains("N+1"));
  const std::vector<double> bad = {1.0, 1.2, 0.0};
  CHECK_THROWS_WITH(scm.set_angles(bad), Contains("strictly decreasing"));
  scm.set_timesteps(2);
  CHECK_THROWS_WITH(scm.coefficients(2), Contains("out of range"));

  // The generic driver refuses to run a stochastic sampler without a noise source.
  std::vector<float> x(4, 1.0f);
  auto zero_velocity = [](int, double, std::span<float>, std::span<float> out) {
    std::fill(out.begin(), out.end(), 0.0f);
  };
  CHECK_THROWS_WITH(ss::sample(scm, zero_velocity, std::span<float>(x)), Contains("noise"));
  ss::FlowEuler unset;
  CHECK_THROWS_WITH(ss::sample(unset, zero_velocity, std::span<float>(x)), Contains("set_timesteps"));
}

TEST_CASE("span lincomb checks sizes", "[sampling]") {
  std::vector<float> a(3), b(4);
  const std::vector<std::span<float>> in = {b};
  const double c = 1.0;
  CHECK_THROWS_WITH(ss::SpanLincomb{}(std::span<float>(a), std::span<const double>(&c, 1),
                                      std::span<const std::span<float>>(in)),
                    Contains("[lincomb]"));
}
