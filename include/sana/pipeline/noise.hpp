/// @file
/// Initial noise from a counter-based generator, so an image's noise depends only on
/// (seed, image index, element index): not on batch layout, thread count or backend.
///
/// Generator: Philox4x32-10 (Salmon et al., SC'11). For image `stream` of a run seeded with `seed`,
/// element e of its latent (flattened C·H·W, PyTorch order) takes the Philox block with
///   key = (seed_lo, seed_hi),  counter = (p mod 2^32, stream_lo, stream_hi, 0x5A4E0001 xor (p >> 32)), p = e / 2
/// whose four 32-bit words give two 64-bit uniforms u1 = (w0·2^32 + w1 + 1/2)·2^-64 ∈ (0, 1) and
/// u2 likewise from (w2, w3); Box-Muller gives z0 = r·cos(2πu2), z1 = r·sin(2πu2), r = sqrt(−2 ln u1),
/// and element e gets z0 if e is even, z1 if odd (computed in double, stored as float).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

using PhiloxBlock = std::array<std::uint32_t, 4>;

/// Philox4x32 with 10 rounds.
inline PhiloxBlock philox4x32_10(PhiloxBlock ctr, std::array<std::uint32_t, 2> key) {
  constexpr std::uint32_t m0 = 0xD2511F53u, m1 = 0xCD9E8D57u, w0 = 0x9E3779B9u, w1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(m0) * ctr[0];
    const std::uint64_t p1 = static_cast<std::uint64_t>(m1) * ctr[2];
    ctr = {static_cast<std::uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<std::uint32_t>(p1),
           static_cast<std::uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<std::uint32_t>(p0)};
    key[0] += w0;
    key[1] += w1;
  }
  return ctr;
}

/// Fills `out` with standard normal noise for image `stream` of a run seeded with `seed`,
/// starting at element `offset` of that image (so a latent can be filled in pieces).
inline void fill_normal(std::span<float> out, std::uint64_t seed, std::uint64_t stream, std::uint64_t offset = 0) {
  constexpr std::uint32_t kDomain = 0x5A4E0001u;  // separates latent noise from other uses of the seed
  const std::array<std::uint32_t, 2> key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
  constexpr double two_pi = 6.283185307179586476925286766559;
  constexpr double inv64 = 5.421010862427522170037264e-20;  // 2^-64
  std::uint64_t e = offset;
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t pair = e / 2;
    const PhiloxBlock r = philox4x32_10({static_cast<std::uint32_t>(pair), static_cast<std::uint32_t>(stream),
                                         static_cast<std::uint32_t>(stream >> 32), kDomain ^ static_cast<std::uint32_t>(pair >> 32)},
                                        key);
    const double u1 = (static_cast<double>((static_cast<std::uint64_t>(r[0]) << 32) | r[1]) + 0.5) * inv64;
    const double u2 = (static_cast<double>((static_cast<std::uint64_t>(r[2]) << 32) | r[3]) + 0.5) * inv64;
    const double rad = std::sqrt(-2.0 * std::log(u1));
    if (e % 2 == 0) {
      out[i++] = static_cast<float>(rad * std::cos(two_pi * u2));
      ++e;
      if (i == out.size()) break;
    }
    out[i++] = static_cast<float>(rad * std::sin(two_pi * u2));
    ++e;
  }
}

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
