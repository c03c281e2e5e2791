/// @file
/// Small helpers shared by the io headers: rendering untrusted names for error messages and
/// runtime shapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {
namespace detail {

/// Renders untrusted text for an error message: control bytes (and, unless `utf8_ok`, every
/// non-ASCII byte) become \xHH and long text is cut, so a hostile name cannot flood or garble logs.
inline std::string printable(std::string_view s, bool utf8_ok = true, std::size_t max_bytes = 160) {
  bool cut = false;
  if (s.size() > max_bytes) {
    std::size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0u) == 0x80u) --n;  // keep UTF-8 sequences whole
    s = s.substr(0, n);
    cut = true;
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 8);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8_ok)) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  if (cut) out += "...";
  return out;
}

/// 'name', made printable.
inline std::string quote_name(std::string_view s) { return "'" + printable(s) + "'"; }

/// Streams as `quote_name(s)`, formatting only when streamed, so passing one to `check`
/// costs nothing when the check passes (the parser checks every tensor several times).
struct name_arg {
  std::string_view s;
};
inline std::ostream& operator<<(std::ostream& os, const name_arg& n) { return os << quote_name(n.s); }

/// "(8, 8)" for a runtime shape, "(3,)" for rank 1, "()" for a scalar.
inline std::string dims_string(std::span<const std::int64_t> dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  if (dims.size() == 1) s += ',';
  return s + ")";
}

/// Streams as `dims_string(d)`, lazily like `name_arg`.
struct dims_arg {
  std::span<const std::int64_t> d;
};
inline std::ostream& operator<<(std::ostream& os, const dims_arg& d) { return os << dims_string(d.d); }

/// Element count of a runtime shape; nullopt for a negative extent or a count above int64.
inline std::optional<std::int64_t> dims_numel(std::span<const std::int64_t> dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) {
    if (d < 0 || (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d)) return std::nullopt;
    n *= d;
  }
  return n;
}

} // namespace detail
} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
