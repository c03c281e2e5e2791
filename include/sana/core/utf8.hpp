/// @file
/// UTF-8 validation for untrusted text (file names, prompts, metadata).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0u) == 0xC0u) len = 2, cp = c & 0x1Fu;
    else if ((c & 0xF0u) == 0xE0u) len = 3, cp = c & 0x0Fu;
    else if ((c & 0xF8u) == 0xF0u) len = 4, cp = c & 0x07u;
    else return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    static constexpr std::uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
