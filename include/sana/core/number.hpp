/// @file
/// `parse_number<N>(text)`: the one strict text-to-number conversion of the project (CLI flags, prompt
/// files, anything typed by a user). The whole text must be the number: no leading or trailing spaces,
/// no '+', no sign for unsigned types, integers within N's range, floating point finite (no inf, nan or
/// overflow such as 1e999). std::from_chars does the parsing, so the locale plays no part.
#pragma once

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// The number `text` spells, or nullopt when it is not exactly one N (see the file comment).
template <class N>
std::optional<N> parse_number(std::string_view text) {
  static_assert(std::is_arithmetic_v<N> && !std::is_same_v<N, bool>, "parse_number: integers and floating point");
  if (text.empty()) return std::nullopt;
  N out{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  if constexpr (std::is_floating_point_v<N>)
    if (!std::isfinite(out)) return std::nullopt;
  return out;
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
