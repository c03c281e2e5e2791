/// @file
/// Command-line flag reading shared by the `sana` subcommands: the usage error (exit code 2), a cursor
/// over the arguments, and strict number parsing (the whole text must be the number).
#pragma once

#include <cmath>
#include <sstream>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <limits>
#include <type_traits>

#include "sana/core/number.hpp"

namespace sana_cli {

/// A bad command line: printed as one line, exit code 2.
struct UsageError {
  std::string message;
};

/// Walks the arguments: `next()` gives each in turn, `value()` the one after the current flag.
class FlagCursor {
public:
  explicit FlagCursor(std::span<const std::string_view> args) : args_(args) {}
  bool done() const { return at_ >= args_.size(); }
  std::string_view next() { return flag_ = args_[at_++]; }
  std::string value() {
    if (at_ >= args_.size()) throw UsageError{std::string(flag_) + " needs a value"};
    return std::string(args_[at_++]);
  }

private:
  std::span<const std::string_view> args_;
  std::size_t at_ = 0;
  std::string_view flag_;
};

/// `text` as an N by the strict `sana::parse_number` (the whole text is the number, finite, in range),
/// else a UsageError naming `flag`.
template <class N>
N parse_number(std::string_view flag, std::string_view text) {
  if (const auto v = sana::parse_number<N>(text)) return *v;
  throw UsageError{std::string(flag) + " expects " +
                   (std::is_floating_point_v<N> ? "a finite number"
                    : std::is_unsigned_v<N>     ? "a non-negative integer"
                                                : "an integer") +
                   ", got '" + std::string(text) + "'"};
}

/// `parse_number` and a bound check: "FLAG must be in [lo, hi], got V".
template <class N>
N parse_number_in(std::string_view flag, std::string_view text, N lo, N hi) {
  const N v = parse_number<N>(flag, text);
  if (v < lo || v > hi) {
    std::ostringstream os;
    os << flag << " must be in [" << +lo << ", " << +hi << "], got " << text;
    throw UsageError{os.str()};
  }
  return v;
}

} // namespace sana_cli
