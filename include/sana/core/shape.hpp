/// @file
/// Shapes and strides in PyTorch dimension order (outermost first), in elements.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

template <std::size_t Rank>
using Shape = std::array<std::int64_t, Rank>;

/// Product of the extents, with a clear error on negative sizes or int64 overflow.
template <std::size_t Rank>
std::int64_t checked_numel(const Shape<Rank>& shape, std::string_view where = "shape") {
  std::int64_t n = 1;
  for (std::int64_t s : shape) {
    check(s >= 0, where, "negative extent ", s);
    if (s != 0 && n > std::numeric_limits<std::int64_t>::max() / s) fail(where, "element count overflows int64");
    n *= s;
  }
  return n;
}

/// Row-major (C order) strides for `shape`.
template <std::size_t Rank>
constexpr Shape<Rank> contiguous_strides(const Shape<Rank>& shape) {
  Shape<Rank> st{};
  std::int64_t s = 1;
  for (std::size_t i = Rank; i-- > 0;) {
    st[i] = s;
    s *= shape[i] > 0 ? shape[i] : 1;
  }
  return st;
}

template <std::size_t Rank>
std::string shape_string(const Shape<Rank>& shape) {
  std::ostringstream os;
  os << '(';
  for (std::size_t i = 0; i < Rank; ++i) os << (i ? ", " : "") << shape[i];
  if (Rank == 1) os << ',';
  os << ')';
  return os.str();
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
