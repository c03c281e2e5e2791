// Schedules against diffusers 0.42.1 (fixtures from tools/reference/sampling_fixtures.py):
// timesteps must match exactly and float32 sigmas bit for bit.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "sampling/fixtures.hpp"
#include "sana/sampling.hpp"

namespace ss = sana::sampling;
using sampling_test::floats;
using sampling_test::load_cases;

namespace {
/// Distance in float32 ulps (same-sign finite values).
std::int64_t ulps(float a, float b) {
  return std::llabs(static_cast<std::int64_t>(std::bit_cast<std::int32_t>(a)) -
                    static_cast<std::int64_t>(std::bit_cast<std::int32_t>(b)));
}
} // namespace

TEST_CASE("flow-dpm schedule matches diffusers exactly", "[sampling][parity]") {
  for (const char* group : {"dpm", "dpm_sigma_min"}) {
    const auto fixture = load_cases("schedules.json");
    for (const auto& c : fixture.at(group)) {
      const int n = c.at("steps");
      const double shift = c.at("shift");
      INFO(group << " steps " << n << " shift " << shift);
      ss::FlowDpmSolver solver({.shift = shift,
                                .final_sigma = std::string(group) == "dpm"
                                                   ? ss::FinalSigma::zero
                                                   : ss::FinalSigma::sigma_min});
      solver.set_timesteps(n);
      const auto expected_t = c.at("timesteps").get<std::vector<std::int64_t>>();
      const auto expected_s = floats(c.at("sigmas"));
      REQUIRE(solver.num_steps() == n);
      REQUIRE(solver.sigmas().size() == expected_s.size());
      for (int i = 0; i < n; ++i) CHECK(solver.timesteps()[i] == static_cast<double>(expected_t[i]));
      for (std::size_t i = 0; i < expected_s.size(); ++i)
        CHECK(std::bit_cast<std::uint32_t>(solver.sigmas()[i]) ==
              std::bit_cast<std::uint32_t>(expected_s[i]));
    }
  }
}

TEST_CASE("flow-euler schedule matches diffusers exactly", "[sampling][parity]") {
  const auto fixture_euler = load_cases("schedules.json");
  for (const auto& c : fixture_euler.at("euler")) {
    const int n = c.at("steps");
    const double shift = c.at("shift");
    INFO("steps " << n << " shift " << shift);
    ss::FlowEuler solver({.shift = shift});
    solver.set_timesteps(n);
    const auto expected_t = floats(c.at("timesteps"));
    const auto expected_s = floats(c.at("sigmas"));
    REQUIRE(solver.num_steps() == n);
    for (int i = 0; i < n; ++i)
      CHECK(std::bit_cast<std::uint32_t>(solver.timesteps()[i]) ==
            std::bit_cast<std::uint32_t>(expected_t[i]));
    for (std::size_t i = 0; i < expected_s.size(); ++i)
      CHECK(std::bit_cast<std::uint32_t>(solver.sigmas()[i]) ==
            std::bit_cast<std::uint32_t>(expected_s[i]));
  }
}

TEST_CASE("nvlabs flow grid matches torch float32", "[sampling][parity]") {
  // The fixture comes from torch's CPU linspace, whose vectorised kernel rounds differently from
  // the scalar/CUDA formula we follow, so grid points may differ by an ulp or two.
  const auto fixture_nvlabs = load_cases("schedules.json");
  for (const auto& c : fixture_nvlabs.at("nvlabs")) {
    const int n = c.at("steps");
    const double shift = c.at("shift");
    INFO("steps " << n << " shift " << shift);
    ss::FlowDpmSolver solver({.shift = shift, .grid = ss::TimeGrid::nvlabs});
    solver.set_timesteps(n);
    const auto expected_s = floats(c.at("sigmas"));
    const auto expected_t = floats(c.at("timesteps"));
    const std::int64_t allowed = 4;
    for (std::size_t i = 0; i < expected_s.size(); ++i)
      CHECK(ulps(solver.sigmas()[i], expected_s[i]) <= allowed);
    for (int i = 0; i < n; ++i)
      CHECK(ulps(static_cast<float>(solver.timesteps()[i]), expected_t[i]) <= allowed);
  }
}

TEST_CASE("scm angles and flow times match diffusers", "[sampling][parity]") {
  const auto fixture_scm = load_cases("schedules.json");
  for (const auto& c : fixture_scm.at("scm")) {
    const int n = c.at("steps");
    INFO("steps " << n);
    ss::ScmSolver solver;
    solver.set_timesteps(n);
    const auto angles = floats(c.at("angles"));
    const auto tau = floats(c.at("tau"));
    REQUIRE(solver.angles().size() == angles.size());
    for (std::size_t i = 0; i < angles.size(); ++i)
      CHECK(std::bit_cast<std::uint32_t>(solver.angles()[i]) ==
            std::bit_cast<std::uint32_t>(angles[i]));
    for (int i = 0; i < n; ++i)
      CHECK(ulps(static_cast<float>(solver.model_time(i)), tau[static_cast<std::size_t>(i)]) <= 1);
  }
}

TEST_CASE("schedules reproduce the values quoted in sana-spec.md", "[sampling]") {
  ss::FlowDpmSolver dpm;
  dpm.set_timesteps(20);
  const std::vector<double> t3 = {999, 982, 963, 944, 922, 899, 874, 847, 817, 785,
                                  749, 710, 666, 617, 562, 499, 428, 345, 249, 136};
  CHECK(std::vector<double>(dpm.timesteps().begin(), dpm.timesteps().end()) == t3);
  ss::FlowDpmSolver dpm6({.shift = 6.0});
  dpm6.set_timesteps(20);
  const std::vector<double> t6 = {999, 991, 981, 971, 959, 947, 933, 917, 899, 879,
                                  856, 830, 799, 763, 719, 666, 599, 513, 399, 239};
  CHECK(std::vector<double>(dpm6.timesteps().begin(), dpm6.timesteps().end()) == t6);

  ss::FlowEuler euler({.shift = 7.0});
  euler.set_timesteps(2);
  CHECK(euler.sigmas()[0] == 1.0f);
  CHECK(euler.sigmas()[1] == Approx(0.046756).epsilon(1e-5));
  CHECK(euler.timesteps()[1] == Approx(46.756).epsilon(1e-5));

  ss::ScmSolver scm;
  scm.set_timesteps(2);
  CHECK(scm.model_time(0) == Approx(1.000004).epsilon(1e-6));
  CHECK(scm.model_time(1) == Approx(0.782708).epsilon(1e-6));
}

TEST_CASE("flow-dpm step orders follow diffusers' rules", "[sampling]") {
  auto orders = [](ss::FlowDpmSolverConfig cfg, int n) {
    ss::FlowDpmSolver s(cfg);
    s.set_timesteps(n);
    std::vector<int> o;
    for (int i = 0; i < n; ++i) o.push_back(s.step_order(i));
    return o;
  };
  CHECK(orders({}, 5) == std::vector<int>{1, 2, 2, 2, 1});
  CHECK(orders({.order = 1}, 4) == std::vector<int>{1, 1, 1, 1});
  CHECK(orders({.order = 3}, 6) == std::vector<int>{1, 2, 3, 3, 2, 1});
  // lower_order_second only below 15 steps; the zero final sigma always forces order 1.
  auto o3 = orders({.order = 3}, 16);
  CHECK(o3[13] == 3);
  CHECK(o3[14] == 3);
  CHECK(o3[15] == 1);
  // sigma_min final: second order at the end for >= 15 steps unless euler_at_final.
  CHECK(orders({.final_sigma = ss::FinalSigma::sigma_min}, 20).back() == 2);
  CHECK(orders({.final_sigma = ss::FinalSigma::sigma_min}, 10).back() == 1);
  CHECK(orders({.euler_at_final = true, .final_sigma = ss::FinalSigma::sigma_min}, 20).back() == 1);
  // NVlabs lowers the order at the end for every step count.
  auto nv = orders({.order = 3, .grid = ss::TimeGrid::nvlabs}, 20);
  CHECK(nv[18] == 2);
  CHECK(nv[19] == 1);
}

TEST_CASE("custom schedules", "[sampling]") {
  ss::FlowDpmSolver dpm;
  const std::vector<double> sig = {0.9, 0.5, 0.2};
  dpm.set_sigmas(sig);
  CHECK(dpm.num_steps() == 3);
  CHECK(dpm.timesteps()[0] == 900);
  CHECK(dpm.timesteps()[2] == 200);
  CHECK(dpm.sigmas()[3] == 0.0f);
  const std::vector<std::int64_t> ts = {999, 500, 10};
  dpm.set_timesteps(ts);
  CHECK(dpm.sigmas()[1] == 0.5f);
  CHECK(dpm.model_time(2) == 10);

  ss::FlowEuler euler({.shift = 1.0});
  euler.set_sigmas(sig);
  CHECK(euler.sigmas()[1] == 0.5f);
  CHECK(euler.timesteps()[1] == 500.0f);

  ss::ScmSolver scm;
  const std::vector<double> angles = {1.5708, 1.1, 0.6, 0.0};
  scm.set_angles(angles);
  CHECK(scm.num_steps() == 3);
  CHECK(scm.angles()[1] == 1.1f);
}

TEST_CASE("flow-heun schedule matches diffusers' interleaved table exactly", "[sampling][parity]") {
  // diffusers lists every evaluation: timesteps [t0, t1, t1, …], sigmas [s0, s1, s1, …, 0]; the records
  // of (step, stage) must walk the same table.
  const auto fixture = load_cases("schedules.json");
  for (const auto& c : fixture.at("heun")) {
    const int n = c.at("steps");
    const double shift = c.at("shift");
    INFO("steps " << n << " shift " << shift);
    ss::FlowHeun solver({.shift = shift});
    solver.set_timesteps(n);
    const auto expected_t = floats(c.at("timesteps"));
    const auto expected_s = floats(c.at("sigmas"));
    REQUIRE(ss::num_evaluations(solver) == static_cast<int>(expected_t.size()));
    std::size_t e = 0;
    for (int i = 0; i < solver.num_steps(); ++i)
      for (int k = 0; k < solver.num_stages(i); ++k, ++e) {
        const ss::StepRecord r = solver.record(i, k);
        CHECK(std::bit_cast<std::uint32_t>(static_cast<float>(r.model_time)) ==
              std::bit_cast<std::uint32_t>(expected_t[e]));
        // diffusers' sigma of evaluation e is sigmas[e] (its second stage reads σ_{i+1} from sigmas[e])
        CHECK(std::bit_cast<std::uint32_t>(static_cast<float>(r.sigma)) ==
              std::bit_cast<std::uint32_t>(expected_s[e]));
      }
  }
}

TEST_CASE("flow-unipc schedule matches diffusers exactly", "[sampling][parity]") {
  const auto fixture = load_cases("schedules.json");
  for (const auto& c : fixture.at("unipc")) {
    const int n = c.at("steps");
    const double shift = c.at("shift");
    INFO("steps " << n << " shift " << shift);
    ss::FlowUniPc solver({.shift = shift});
    solver.set_timesteps(n);
    const auto expected_t = c.at("timesteps").get<std::vector<std::int64_t>>();
    const auto expected_s = floats(c.at("sigmas"));
    REQUIRE(solver.num_steps() == n);
    REQUIRE(solver.sigmas().size() == expected_s.size());
    for (int i = 0; i < n; ++i) CHECK(solver.record(i, 0).model_time == static_cast<double>(expected_t[i]));
    for (std::size_t i = 0; i < expected_s.size(); ++i)
      CHECK(std::bit_cast<std::uint32_t>(solver.sigmas()[i]) == std::bit_cast<std::uint32_t>(expected_s[i]));
  }
}
