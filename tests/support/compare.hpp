// Random inputs and tolerance-checked comparison for parity tests.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "sana/core/tensor.hpp"

namespace sana::test {

/// Relative L2 tolerance of a backend's output against the reference, per element type.
/// fp32: summation order only. 16-bit: both sides round the same fp32 value, so an
/// occasional one-ulp difference (2^-8 for bf16, 2^-11 for f16) is the expected floor.
template <class T> constexpr double parity_tolerance = 1e-5;
template <> constexpr double parity_tolerance<bf16> = 8e-3;
template <> constexpr double parity_tolerance<f16> = 2e-3;

template <class T, std::size_t R>
Tensor<T, R, reference_backend> random_tensor(const Shape<R>& shape, std::uint32_t seed, float scale = 1.0f) {
  Tensor<T, R, reference_backend> t(shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = convert<T>(dist(gen));
  return t;
}

/// ||got - want|| / max(||want||, tiny) in double precision.
template <class T, std::size_t R>
double relative_l2(const TensorView<const T, R, host_space>& got, const TensorView<const T, R, host_space>& want) {
  REQUIRE(got.shape() == want.shape());
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double g = to_float(got.data()[i]), w = to_float(want.data()[i]);
    num += (g - w) * (g - w);
    den += w * w;
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

template <class T, std::size_t R>
void require_close(const TensorView<const T, R, host_space>& got, const TensorView<const T, R, host_space>& want,
                   double tol = parity_tolerance<T>) {
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const float g = to_float(got.data()[i]);
    INFO("element " << i);
    REQUIRE(std::isfinite(g) == std::isfinite(to_float(want.data()[i])));
  }
  const double err = relative_l2(got, want);
  INFO("relative L2 error " << err << " (tolerance " << tol << ")");
  REQUIRE(err <= tol);
}

} // namespace sana::test
