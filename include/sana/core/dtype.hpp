/// @file
/// Element types: the runtime `DType` tag and the 16-bit storage types `bf16` and `f16`.
/// Conversions from float round to nearest, ties to even, and keep NaN a NaN; they are
/// plain bit manipulation so the same code runs on the host and (through SANA_HOST_DEVICE) on a GPU.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// Runtime element type, used at the edges (files, descriptors); kernels are templates on T.
enum class DType : std::uint8_t { F32, F16, BF16, I32, I64, U8 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
  }
  return "?";
}

namespace detail {
SANA_HOST_DEVICE inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
SANA_HOST_DEVICE inline float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// float -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN with its sign.
SANA_HOST_DEVICE inline std::uint16_t float_to_bf16_bits(float f) {
  std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
SANA_HOST_DEVICE inline float bf16_bits_to_float(std::uint16_t b) {
  return bits_float(static_cast<std::uint32_t>(b) << 16);
}

/// float -> IEEE binary16 bits, round to nearest even, subnormals and overflow to infinity included.
SANA_HOST_DEVICE inline std::uint16_t float_to_f16_bits(float f) {
  const std::uint32_t x = float_bits(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) {  // inf or NaN
    if (a == 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7c00u);
    return static_cast<std::uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  }
  if (a >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (a < 0x38800000u) {                                                       // below 2^-14: subnormal
    if (a < 0x33000000u) return static_cast<std::uint16_t>(sign);              // <= 2^-25 rounds to 0
    const std::uint32_t e = a >> 23;
    const std::uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - e;  // value / 2^-24 = m * 2^(e-126)
    std::uint32_t r = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<std::uint16_t>(sign | r);
  }
  std::uint32_t r = a - 0x38000000u;  // rebias exponent 127 -> 15
  r = (r + 0xfffu + ((r >> 13) & 1u)) >> 13;
  return static_cast<std::uint16_t>(sign | r);
}
SANA_HOST_DEVICE inline float f16_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu;
  const std::uint32_t m = h & 0x3ffu;
  if (e == 0) {
    if (m == 0) return bits_float(sign);
    // subnormal: m * 2^-24, exact in float
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (e == 31) return bits_float(sign | 0x7f800000u | (m << 13));
  return bits_float(sign | ((e + 112u) << 23) | (m << 13));
}
} // namespace detail

/// bfloat16 storage type (2 bytes, trivially copyable). Arithmetic goes through float.
struct bf16 {
  std::uint16_t bits = 0;
  bf16() = default;
  SANA_HOST_DEVICE explicit bf16(float f) : bits(detail::float_to_bf16_bits(f)) {}
  SANA_HOST_DEVICE explicit operator float() const { return detail::bf16_bits_to_float(bits); }
  SANA_HOST_DEVICE static bf16 from_bits(std::uint16_t b) { bf16 r; r.bits = b; return r; }
};

/// IEEE binary16 storage type (2 bytes, trivially copyable). Arithmetic goes through float.
struct f16 {
  std::uint16_t bits = 0;
  f16() = default;
  SANA_HOST_DEVICE explicit f16(float f) : bits(detail::float_to_f16_bits(f)) {}
  SANA_HOST_DEVICE explicit operator float() const { return detail::f16_bits_to_float(bits); }
  SANA_HOST_DEVICE static f16 from_bits(std::uint16_t b) { f16 r; r.bits = b; return r; }
};

static_assert(sizeof(bf16) == 2 && std::is_trivially_copyable_v<bf16>);
static_assert(sizeof(f16) == 2 && std::is_trivially_copyable_v<f16>);

/// Maps a storage type to its DType.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<f16> { static constexpr DType value = DType::F16; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::U8; };
template <class T> inline constexpr DType dtype_of_v = dtype_of<T>::value;

/// The floating types tensors compute in.
template <class T>
concept FloatElement = std::is_same_v<T, float> || std::is_same_v<T, bf16> || std::is_same_v<T, f16>;

/// Any type a tensor can hold.
template <class T>
concept Element = FloatElement<T> || std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t> ||
                  std::is_same_v<T, std::uint8_t>;

/// Converts between element types through float (exact for float -> float).
template <class To, class From>
SANA_HOST_DEVICE inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bf16> || std::is_same_v<To, f16>) {
    return To(static_cast<float>(v));
  } else {
    return static_cast<To>(static_cast<float>(v));
  }
}

/// Loads an element as float.
template <class T>
SANA_HOST_DEVICE inline float to_float(T v) { return static_cast<float>(v); }

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
