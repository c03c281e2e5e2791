// CFG / PAG combination against diffusers' PAGMixin (fixtures from sampling_fixtures.py).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "sampling/fixtures.hpp"
#include "sana/sampling.hpp"

namespace ss = sana::sampling;
using sampling_test::floats;
using sampling_test::load_cases;

TEST_CASE("guidance matches diffusers CFG and (adaptive) PAG", "[sampling][parity]") {
  for (const auto& c : load_cases("guidance.json")) {
    ss::Guidance g{.guidance_scale = c.at("guidance_scale"),
                   .pag_scale = c.at("pag_scale"),
                   .pag_adaptive_scale = c.at("pag_adaptive_scale")};
    const double t = c.at("timestep");
    INFO("cfg " << g.guidance_scale << " pag " << g.pag_scale << " adaptive "
                << g.pag_adaptive_scale << " t " << t);
    std::vector<std::vector<float>> branches;
    for (const auto& b : c.at("branches")) branches.push_back(floats(b));
    REQUIRE(static_cast<int>(branches.size()) == g.num_branches());
    std::vector<std::span<float>> views(branches.begin(), branches.end());
    std::vector<float> out(branches[0].size());
    g.combine(std::span<float>(out), std::span<const std::span<float>>(views), t, ss::SpanLincomb{});
    const auto expected = floats(c.at("expected"));
    double scale = 0;
    for (float v : expected) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    for (std::size_t j = 0; j < out.size(); ++j)
      CHECK(std::fabs(out[j] - expected[j]) <= 1e-6 * scale);
  }
}

TEST_CASE("adaptive PAG scale clamps at zero", "[sampling]") {
  ss::Guidance g{.guidance_scale = 5.0, .pag_scale = 3.0, .pag_adaptive_scale = 0.01};
  CHECK(g.pag_scale_at(1000) == Approx(3.0));
  CHECK(g.pag_scale_at(900) == Approx(2.0));
  CHECK(g.pag_scale_at(500) == 0.0);
  CHECK(g.num_branches() == 3);
  ss::Guidance cfg_only{.guidance_scale = 4.5};
  CHECK(cfg_only.num_branches() == 2);
  ss::Guidance none{.guidance_scale = 1.0};
  CHECK(none.num_branches() == 1);

  std::vector<float> u = {1, 2}, c = {3, 5}, out(2);
  ss::classifier_free_guidance(std::span<float>(out), std::span<float>(u), std::span<float>(c), 4.5,
                               ss::SpanLincomb{});
  CHECK(out[0] == Approx(1 + 4.5 * 2));
  CHECK(out[1] == Approx(2 + 4.5 * 3));
}
