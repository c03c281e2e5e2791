// The model benchmarks' helpers now live in the installed headers (sana/bench/*.hpp).
#pragma once

#include "sana/bench/cost.hpp"
#include "sana/bench/random.hpp"
#include "sana/bench/shapes.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace bench {
/// The benchmarks' name for fill_uniform.
template <class T>
void fill(T* data, std::int64_t n, std::uint32_t seed, float scale) {
  fill_uniform<T>(data, n, seed, scale);
}
} // namespace bench
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
