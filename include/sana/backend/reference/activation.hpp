/// @file
/// Scalar activation functions (fp32), shared by every reference kernel with an epilogue.
#pragma once

#include <cmath>

#include "sana/backend/descriptors.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {

inline float apply_activation(Activation act, float x) {
  switch (act) {
    case Activation::None: return x;
    case Activation::ReLU: return x > 0.0f ? x : 0.0f;
    case Activation::SiLU: return x / (1.0f + std::exp(-x));
    case Activation::GELUTanh: {
      // PyTorch gelu(approximate="tanh")
      constexpr float k = 0.7978845608028654f;  // sqrt(2/pi)
      return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
    }
  }
  return x;
}

} // namespace reference
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
