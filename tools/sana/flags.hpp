/// @file
/// Command-line flag reading shared by the `sana` subcommands: the usage error (exit code 2), a cursor
/// over the arguments, and strict number parsing (the whole text must be the number).
#pragma once

#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <limits>
#include <type_traits>

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

/// `text` as an N: integers in full (no sign for unsigned types), floating point finite; else a
/// UsageError naming `flag`.
template <class N>
N parse_number(std::string_view flag, const std::string& text) {
  try {
    std::size_t used = 0;
    N out{};
    if constexpr (std::is_floating_point_v<N>) {
      out = static_cast<N>(std::stod(text, &used));
      if (!std::isfinite(out)) throw 0;
    } else if constexpr (std::is_unsigned_v<N>) {
      if (!text.empty() && text[0] == '-') throw 0;
      out = static_cast<N>(std::stoull(text, &used));
    } else {
      const long long v = std::stoll(text, &used);
      if (v < static_cast<long long>(std::numeric_limits<N>::min()) || v > static_cast<long long>(std::numeric_limits<N>::max()))
        throw 0;
      out = static_cast<N>(v);
    }
    if (used != text.size()) throw 0;
    return out;
  } catch (...) {
    throw UsageError{std::string(flag) + " expects a number, got '" + text + "'"};
  }
}

} // namespace sana_cli
