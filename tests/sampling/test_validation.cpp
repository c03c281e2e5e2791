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

TEST_CASE("flow-heun and flow-unipc reject invalid settings and inputs", "[sampling]") {
  CHECK_THROWS_WITH(ss::FlowHeun({.shift = 0.0}), Contains("[flow-heun]") && Contains("shift"));
  CHECK_THROWS_WITH(ss::FlowHeun({.num_train_timesteps = 0}), Contains("[flow-heun]"));
  ss::FlowHeun h;
  CHECK_THROWS_WITH(h.num_stages(0), Contains("[flow-heun]") && Contains("set_timesteps"));
  h.set_timesteps(3);
  CHECK(h.num_stages(0) == 2);
  CHECK(h.num_stages(2) == 1);  // the final step to sigma 0 is one Euler update
  CHECK(ss::num_evaluations(h) == 5);
  CHECK_THROWS_WITH(h.record(2, 1), Contains("[flow-heun]") && Contains("stage 1"));
  CHECK_THROWS_WITH(h.record(3, 0), Contains("out of range"));
  std::vector<float> x(4), v(4);
  ss::StepBuffers<std::span<float>> b{x, x, v};
  CHECK_THROWS_WITH(h.step(h.record(0, 0), b, ss::SpanLincomb{}), Contains("history"));

  CHECK_THROWS_WITH(ss::FlowUniPc({.order = 4}), Contains("[flow-unipc]") && Contains("order"));
  CHECK_THROWS_WITH(ss::FlowUniPc({.shift = -1.0}), Contains("[flow-unipc]") && Contains("shift"));
  CHECK_THROWS_WITH(ss::FlowUniPc({.order = 2, .lower_order_final = false}), Contains("lower_order_final"));
  CHECK_NOTHROW(ss::FlowUniPc({.order = 1, .lower_order_final = false}));
  ss::FlowUniPc u({.order = 3});
  CHECK_THROWS_WITH(u.coefficients(0), Contains("set_timesteps"));
  CHECK_THROWS_WITH(u.set_timesteps(0), Contains("[flow-unipc]"));
  u.set_timesteps(4);
  CHECK(u.step_order(0) == 1);  // warm-up
  CHECK(u.step_order(2) == 2);  // lower_order_final: min(order, N - i)
  CHECK(u.step_order(3) == 1);
  CHECK(u.coefficients(0).corrector_order == 0);
  CHECK(u.history_size() == 5);
  CHECK_THROWS_WITH(u.step(u.record(0, 0), b, ss::SpanLincomb{}), Contains("history"));
  CHECK_THROWS_WITH(u.record(0, 1), Contains("stage 1"));
}

TEST_CASE("the driver hands the model one record per evaluation, in order", "[sampling]") {
  ss::FlowHeun h({.shift = 3.0});
  h.set_timesteps(4);
  std::vector<float> x(4, 1.0f);
  std::vector<ss::StepRecord> seen;
  ss::sample(
      h,
      [&](const ss::StepRecord& r, std::span<float>, std::span<float> out) {
        seen.push_back(r);
        std::fill(out.begin(), out.end(), 0.0f);
      },
      std::span<float>(x));
  REQUIRE(seen.size() == 7);
  CHECK(seen[0].stage == 0);
  CHECK(seen[1].index == 0);
  CHECK(seen[1].stage == 1);
  CHECK(seen[1].sigma == Approx(h.sigmas()[1]));  // the corrector evaluates at the predictor's sigma
  CHECK(seen[6].index == 3);
  CHECK(seen[6].stages == 1);
  CHECK(seen[6].completes_step());
}
