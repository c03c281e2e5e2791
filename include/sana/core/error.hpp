/// @file
/// `sana::error`, the one exception type of the library. Messages start with a bracketed
/// prefix naming the op or file that failed: "[linear] ...", "[model.safetensors] ...".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// Thrown for every invalid input and every failed backend call.
class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void append_all(std::ostringstream&) {}
template <class T, class... Rest>
void append_all(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append_all(os, rest...);
}
} // namespace detail

/// Builds "[where] part1part2..." and throws it as sana::error.
template <class... Parts>
[[noreturn]] void fail(std::string_view where, const Parts&... parts) {
  std::ostringstream os;
  os << '[' << where << "] ";
  detail::append_all(os, parts...);
  throw error(os.str());
}

/// Throws "[where] message" when `condition` is false.
template <class... Parts>
void check(bool condition, std::string_view where, const Parts&... parts) {
  if (!condition) fail(where, parts...);
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
