/// @file
/// `count_nonfinite(tensor)`: NaN and ±Inf in a stored floating-point tensor, read from its bit patterns
/// (F64, F32, F16, BF16, F8 E4M3/E5M2), with no conversion and no allocation. `sana info --check` runs it over
/// every weight of a folder, so a corrupted or overflowed checkpoint is found before it draws a black image.
#pragma once

#include <cstdint>
#include <cstring>

#include "sana/core/config.hpp"
#include "sana/io/safetensors.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

namespace detail {
template <class U>
std::int64_t count_bits(std::span<const std::byte> bytes, U exponent_mask, U mantissa_mask, bool inf_is_nan_only = false) {
  std::int64_t bad = 0;
  for (std::size_t at = 0; at + sizeof(U) <= bytes.size(); at += sizeof(U)) {
    U u;
    std::memcpy(&u, bytes.data() + at, sizeof(U));  // the data section need not be aligned for U
    if (inf_is_nan_only) bad += (u & (exponent_mask | mantissa_mask)) == (exponent_mask | mantissa_mask);
    else bad += (u & exponent_mask) == exponent_mask;
  }
  return bad;
}
} // namespace detail

/// NaN/Inf elements of `t`; 0 for integer and boolean dtypes (which have none).
inline std::int64_t count_nonfinite(const TensorEntry& t) {
  switch (t.dtype) {
    case StoredDType::F64: return detail::count_bits<std::uint64_t>(t.bytes, 0x7FF0000000000000ull, 0xFFFFFFFFFFFFFull);
    case StoredDType::F32: return detail::count_bits<std::uint32_t>(t.bytes, 0x7F800000u, 0x7FFFFFu);
    case StoredDType::F16: return detail::count_bits<std::uint16_t>(t.bytes, 0x7C00, 0x3FF);
    case StoredDType::BF16: return detail::count_bits<std::uint16_t>(t.bytes, 0x7F80, 0x7F);
    case StoredDType::F8_E5M2: return detail::count_bits<std::uint8_t>(t.bytes, 0x7C, 0x03);
    case StoredDType::F8_E4M3: return detail::count_bits<std::uint8_t>(t.bytes, 0x78, 0x07, true);  // only S.1111.111
    default: return 0;
  }
}

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
