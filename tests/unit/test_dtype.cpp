#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "sana/core/dtype.hpp"

using namespace sana;

namespace {
// Independent oracle: round a float to `mant` explicit mantissa bits / exponent range through double.
double round_to_format(double v, int mant_bits, int min_exp, double max_finite) {
  if (std::isnan(v) || std::isinf(v)) return v;
  const double a = std::fabs(v);
  if (a == 0) return v;
  int e;
  std::frexp(a, &e);  // a = f * 2^e, f in [0.5, 1)
  int exp = std::max(e - 1, min_exp);
  const double ulp = std::ldexp(1.0, exp - mant_bits);
  double q = a / ulp;
  double r = std::nearbyint(q);  // default rounding mode: ties to even
  double out = r * ulp;
  if (out > max_finite) out = std::numeric_limits<double>::infinity();
  return std::copysign(out, v);
}
float bits_to_float(std::uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
} // namespace

TEST_CASE("f16 decode/encode round-trips every finite half and keeps NaN", "[unit][dtype]") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto h = f16::from_bits(static_cast<std::uint16_t>(b));
    const float f = static_cast<float>(h);
    if (std::isnan(f)) {
      REQUIRE(std::isnan(static_cast<float>(f16(f))));
      continue;
    }
    REQUIRE(f16(f).bits == b);
  }
}

TEST_CASE("bf16 decode/encode round-trips every bf16 and keeps NaN", "[unit][dtype]") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const float f = static_cast<float>(bf16::from_bits(static_cast<std::uint16_t>(b)));
    if (std::isnan(f)) {
      REQUIRE(std::isnan(static_cast<float>(bf16(f))));
      continue;
    }
    REQUIRE(bf16(f).bits == b);
  }
}

TEST_CASE("float -> f16 / bf16 round to nearest even, matching an independent oracle", "[unit][dtype]") {
  std::mt19937 gen(1234);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 400000; ++i) {
    // Random bit patterns cover every exponent; half-range ones hit subnormals and overflow.
    std::uint32_t u = bits(gen);
    if (i % 2) u = (u & 0x80000000u) | (0x33000000u + (u % (0x47800000u - 0x33000000u)));
    const float f = bits_to_float(u);
    if (std::isnan(f)) continue;
    const double want_h = round_to_format(f, 10, -14, 65504.0);
    const double got_h = static_cast<float>(f16(f));
    INFO("f16 input bits " << std::hex << u);
    REQUIRE((got_h == want_h || (std::isinf(got_h) && std::isinf(want_h) && got_h == want_h)));
    const double want_b = round_to_format(f, 7, -126, 3.3895313892515355e38);
    const double got_b = static_cast<float>(bf16(f));
    INFO("bf16 input bits " << std::hex << u);
    REQUIRE(got_b == want_b);
  }
}

TEST_CASE("exact ties round to even", "[unit][dtype]") {
  // 1 + 2^-11 lies halfway between 1 and the next half (1 + 2^-10): even is 1.
  REQUIRE(static_cast<float>(f16(1.0f + std::ldexp(1.0f, -11))) == 1.0f);
  REQUIRE(static_cast<float>(f16(1.0f + 3 * std::ldexp(1.0f, -11))) == 1.0f + std::ldexp(1.0f, -9));
  REQUIRE(static_cast<float>(bf16(1.0f + std::ldexp(1.0f, -8))) == 1.0f);
  REQUIRE(static_cast<float>(bf16(1.0f + 3 * std::ldexp(1.0f, -8))) == 1.0f + std::ldexp(1.0f, -6));
  REQUIRE(std::isinf(static_cast<float>(f16(65520.0f))));
  REQUIRE(static_cast<float>(f16(65519.0f)) == 65504.0f);
  REQUIRE(static_cast<float>(f16(std::ldexp(1.0f, -25))) == 0.0f);                      // tie to even (0)
  REQUIRE(static_cast<float>(f16(std::ldexp(1.5f, -25))) == std::ldexp(1.0f, -24));      // above the tie
  REQUIRE(std::signbit(static_cast<float>(bf16(-0.0f))));
}

TEST_CASE("dtype sizes and names", "[unit][dtype]") {
  REQUIRE(dtype_size(DType::BF16) == 2);
  REQUIRE(dtype_size(DType::I64) == 8);
  REQUIRE(dtype_name(DType::F16) == "f16");
  STATIC_REQUIRE(dtype_of_v<bf16> == DType::BF16);
}
