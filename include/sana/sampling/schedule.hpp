/// @file
/// Numeric building blocks of sampling schedules, written to reproduce the reference
/// implementations bit for bit: numpy's and torch's `linspace`, and the flow time shift
/// σ' = shift·σ / (1 + (shift−1)·σ) in float64 (numpy) and float32 (torch) arithmetic.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {
namespace detail {

/// a·b rounded to T before the caller adds anything to it. Stops the compiler from fusing the
/// product into an FMA (-ffp-contract=fast with -mfma), which would change schedule bits.
template <class T>
inline T rounded_product(T a, T b) {
  volatile T p = a * b;
  return p;
}

} // namespace detail

/// numpy.linspace(start, stop, num) in float64: start + k·((stop−start)/(num−1)), last = stop.
inline std::vector<double> numpy_linspace(double start, double stop, int num) {
  check(num >= 1, "linspace", "needs at least 1 point, got ", num);
  std::vector<double> out(static_cast<std::size_t>(num));
  if (num == 1) {
    out[0] = start;
    return out;
  }
  const double step = (stop - start) / static_cast<double>(num - 1);
  for (int k = 0; k < num; ++k) out[k] = detail::rounded_product(static_cast<double>(k), step) + start;
  out[num - 1] = stop;
  return out;
}

/// torch.linspace(start, stop, num) for float32 as its scalar and CUDA kernels compute it: the
/// first half counts up from `start`, the second half down from `stop`, all in float32.
/// (torch's vectorised CPU kernel can differ from it by an ulp or two.)
inline std::vector<float> torch_linspace_f32(double start, double stop, int num) {
  check(num >= 1, "linspace", "needs at least 1 point, got ", num);
  const float s = static_cast<float>(start);
  const float e = static_cast<float>(stop);
  std::vector<float> out(static_cast<std::size_t>(num));
  if (num == 1) {
    out[0] = s;
    return out;
  }
  const float step = (e - s) / static_cast<float>(num - 1);
  const int halfway = num / 2;
  for (int k = 0; k < num; ++k)
    out[k] = k < halfway ? s + detail::rounded_product(step, static_cast<float>(k))
                         : e - detail::rounded_product(step, static_cast<float>(num - k - 1));
  return out;
}

/// Flow time shift in float64, operation order as numpy evaluates
/// `shift * s / (1 + (shift - 1) * s)`.
inline double flow_shift_f64(double s, double shift) {
  return (shift * s) / (1.0 + detail::rounded_product(shift - 1.0, s));
}

/// The same shift in float32 arithmetic, as torch evaluates it on a float32 tensor with Python
/// scalars (`shift` and `shift - 1` are rounded to float first).
inline float flow_shift_f32(float s, double shift) {
  const float a = static_cast<float>(shift);
  const float b = static_cast<float>(shift - 1.0);
  return (a * s) / (1.0f + detail::rounded_product(b, s));
}

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
