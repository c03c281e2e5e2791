/// @file
/// Deterministic random tensors and random model weights on any backend, for benchmarks and experiments
/// (bench/, examples/bench_custom_kernel). Not a statistical RNG: a fast LCG, uniform in [-scale, scale).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sana/backend/traits.hpp"
#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"
#include "sana/core/tensor.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace bench {

/// data[0, n) uniform in [-scale, scale), a function of (seed, index) only; fast enough for billions of weights.
template <class T>
void fill_uniform(T* data, std::int64_t n, std::uint32_t seed, float scale = 1.0f) {
  std::uint32_t s = seed * 2654435761u + 1;
  for (std::int64_t i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    data[i] = convert<T>(scale * (static_cast<float>(s >> 8) * (1.0f / 8388608.0f) - 1.0f));
  }
}

/// A tensor of `shape` on backend B, uniform in [-scale, scale) (filled on the host, uploaded).
template <class T, std::size_t R, class B>
Tensor<T, R, B> random_tensor(context_t<B>& ctx, const Shape<R>& shape, std::uint32_t seed, float scale = 1.0f) {
  Tensor<T, R, B> t(shape);
  if constexpr (is_host_backend_v<B>) {
    fill_uniform<T>(t.data(), t.numel(), seed, scale);
  } else {
    std::vector<T> host(static_cast<std::size_t>(t.numel()));
    fill_uniform<T>(host.data(), t.numel(), seed, scale);
    backend_traits<B>::upload(ctx, t.data(), host.data(), host.size() * sizeof(T));
  }
  (void)ctx;
  return t;
}

/// Random weights for every parameter `visit(f)` hands out (a model's visit_parameters), on any backend:
/// matrices uniform in ±1/sqrt(fan-in), norm weights 1, other vectors ±0.1, so activations stay finite.
/// Host backends are filled in place: a staging copy of the largest tensor (Gemma's 2.4 GB embedding table in
/// fp32) would otherwise be the load's memory peak.
template <class B, class T, class Visit>
void randomize(context_t<B>& ctx, Visit&& visit, std::uint32_t seed) {
  std::vector<T> staging;
  visit([&](const std::string& name, auto&& param) {
    auto v = [](auto&& t) {  // a Tensor or a view
      if constexpr (requires { t.view(); }) return t.view();
      else return t;
    }(param);
    const std::int64_t n = v.numel();
    T* host = v.data();
    if constexpr (!is_host_backend_v<B>) {
      staging.resize(static_cast<std::size_t>(n));
      host = staging.data();
    }
    if (name.find("norm") != std::string::npos && v.rank == 1) {
      std::fill(host, host + n, convert<T>(1.0f));
    } else {
      const float scale = v.rank >= 2 ? 1.0f / std::sqrt(static_cast<float>(n / v.size(0))) : 0.1f;
      fill_uniform<T>(host, n, seed++, scale);
    }
    if constexpr (!is_host_backend_v<B>) backend_traits<B>::upload(ctx, v.data(), host, static_cast<std::size_t>(n) * sizeof(T));
  });
  (void)ctx;
}

} // namespace bench
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
