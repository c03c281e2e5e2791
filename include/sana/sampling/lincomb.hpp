/// @file
/// The one operation samplers apply to latent-sized buffers: a linear combination
/// `out = Σ_k coeffs[k] · inputs[k]`. Samplers compute the coefficients on the host and hand
/// them to a caller-provided callable, so they never touch tensors, devices or element types.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <type_traits>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

/// A callable that writes `out = Σ_k coeffs[k] · inputs[k]` element-wise.
///
/// Contract every implementation must meet: `out` may be the same buffer as one of the inputs
/// (samplers update the state in place), so element j of every input is read before element j
/// of `out` is written. All buffers have the same number of elements.
template <class F, class Buffer>
concept Lincomb = requires(F& f, const Buffer& out, std::span<const double> coeffs,
                           std::span<const Buffer> inputs) {
  f(out, coeffs, inputs);
};

/// Default linear combination over host spans (`std::span<float>` or `std::span<double>`).
///
/// Accumulates in double and rounds once per element, so a float result is within half an ulp
/// of the exact combination of the float inputs.
struct SpanLincomb {
  template <class T>
    requires std::is_floating_point_v<T>
  void operator()(std::span<T> out, std::span<const double> coeffs,
                  std::span<const std::span<T>> inputs) const {
    check(coeffs.size() == inputs.size(), "lincomb", coeffs.size(), " coefficients for ",
          inputs.size(), " inputs");
    for (const auto& in : inputs)
      check(in.size() == out.size(), "lincomb", "input of ", in.size(), " elements, output of ",
            out.size());
    const std::size_t terms = inputs.size();
    for (std::size_t j = 0; j < out.size(); ++j) {
      double acc = 0.0;
      for (std::size_t k = 0; k < terms; ++k) acc += coeffs[k] * static_cast<double>(inputs[k][j]);
      out[j] = static_cast<T>(acc);
    }
  }
};

/// out = Σ_k coeffs[k] · inputs[k] through `lincomb`, for a fixed number of terms:
///   combine(lincomb, x, std::array{1.0, dt}, std::array{x, v});   // x ← x + dt·v
template <class Buffer, class F, std::size_t N>
void combine(F& lincomb, const Buffer& out, const std::array<double, N>& coeffs, const std::array<Buffer, N>& inputs) {
  lincomb(out, std::span<const double>(coeffs), std::span<const Buffer>(inputs));
}

/// A combination whose number of terms is known only at run time (up to Capacity), built term by
/// term and written with one `lincomb` call:
///   Terms<Buffer, 4> t; t.add(a, x); for (...) t.add(c[j], history[j]); t.write(lincomb, x);
template <class Buffer, std::size_t Capacity>
class Terms {
public:
  void add(double coeff, const Buffer& input) {
    check(size_ < Capacity, "lincomb", "more than ", Capacity, " terms");
    coeffs_[size_] = coeff;
    inputs_[size_] = input;
    ++size_;
  }
  std::size_t size() const { return size_; }

  template <class F>
  void write(F& lincomb, const Buffer& out) const {
    lincomb(out, std::span<const double>(coeffs_.data(), size_), std::span<const Buffer>(inputs_.data(), size_));
  }

private:
  std::array<double, Capacity> coeffs_{};
  std::array<Buffer, Capacity> inputs_{};
  std::size_t size_ = 0;
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
