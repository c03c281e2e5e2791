#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "sana/pipeline/noise.hpp"

using namespace sana::pipeline;

TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors", "[unit][noise]") {
  REQUIRE(philox4x32_10({0, 0, 0, 0}, {0, 0}) == PhiloxBlock{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  REQUIRE(philox4x32_10({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}) ==
          PhiloxBlock{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  REQUIRE(philox4x32_10({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}) ==
          PhiloxBlock{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("noise depends only on (seed, image, element)", "[unit][noise]") {
  std::vector<float> whole(1001), parts(1001);
  fill_normal(whole, 42, 3);
  // Filled in uneven pieces (as a batched or threaded caller would), the values are identical.
  fill_normal(std::span<float>(parts).subspan(0, 7), 42, 3, 0);
  fill_normal(std::span<float>(parts).subspan(7, 500), 42, 3, 7);
  fill_normal(std::span<float>(parts).subspan(507), 42, 3, 507);
  REQUIRE(parts == whole);
  std::vector<float> other_image(1001), other_seed(1001);
  fill_normal(other_image, 42, 4);
  fill_normal(other_seed, 43, 3);
  REQUIRE(other_image != whole);
  REQUIRE(other_seed != whole);
}

TEST_CASE("noise is standard normal", "[unit][noise]") {
  std::vector<float> z(1 << 18);
  fill_normal(z, 7, 0);
  double m = 0, v = 0, k4 = 0;
  for (float x : z) m += x;
  m /= z.size();
  for (float x : z) {
    v += (x - m) * (x - m);
    k4 += std::pow(x - m, 4);
  }
  v /= z.size();
  k4 /= z.size() * v * v;
  REQUIRE(std::fabs(m) < 0.01);
  REQUIRE(std::fabs(v - 1) < 0.01);
  REQUIRE(std::fabs(k4 - 3) < 0.05);
  for (float x : z) REQUIRE(std::isfinite(x));
}
