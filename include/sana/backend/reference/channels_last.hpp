/// @file
/// The reference kernels' channels-last path: the oracle copies NHWC operands to NCHW, runs its NCHW
/// loop and copies the result back, so both memory formats share one implementation of the arithmetic
/// (and a backend's own NHWC kernels are checked against it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/dtype.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference::detail {

/// An NCHW copy of an (n, c, pixels) map held NHWC ((n, pixels, c) in memory); empty for null.
class PlanarCopy {
public:
  PlanarCopy(const void* nhwc, DType t, std::int64_t n, std::int64_t c, std::int64_t pixels)
      : es_(dtype_size(t)), n_(n), c_(c), p_(pixels) {
    if (!nhwc) return;
    bytes_.resize(static_cast<std::size_t>(n * c * pixels) * es_);
    transpose(static_cast<const std::byte*>(nhwc), bytes_.data(), p_, c_);
  }
  /// An uninitialised NCHW buffer for an output.
  PlanarCopy(DType t, std::int64_t n, std::int64_t c, std::int64_t pixels)
      : bytes_(static_cast<std::size_t>(n * c * pixels) * dtype_size(t)), es_(dtype_size(t)), n_(n), c_(c), p_(pixels) {}

  void* data() { return bytes_.empty() ? nullptr : bytes_.data(); }
  /// Writes the NCHW contents back to an NHWC map.
  void store(void* nhwc) const { transpose(bytes_.data(), static_cast<std::byte*>(nhwc), c_, p_); }

private:
  /// Per image: (rows, cols) -> (cols, rows) of es_-byte elements.
  void transpose(const std::byte* src, std::byte* dst, std::int64_t rows, std::int64_t cols) const {
    const std::size_t es = es_, image = static_cast<std::size_t>(rows * cols) * es;
    for (std::int64_t n = 0; n < n_; ++n)
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
          std::memcpy(dst + n * image + static_cast<std::size_t>(c * rows + r) * es,
                      src + n * image + static_cast<std::size_t>(r * cols + c) * es, es);
  }
  std::vector<std::byte> bytes_;
  std::size_t es_;
  std::int64_t n_, c_, p_;
};

/// Runs an op whose descriptor maps x (c_x channels, p_x pixels) to y (c_y, p_y) — plus a residual shaped like
/// x where the descriptor has one — on NCHW copies, then writes y back channels-last. `y_is_input`: y is read
/// too (accumulating ops). run_nchw(desc) is the op's NCHW reference kernel.
template <class Desc, class Run>
void run_via_nchw(const Desc& d, std::int64_t c_x, std::int64_t p_x, std::int64_t c_y, std::int64_t p_y, bool y_is_input,
                  Run&& run_nchw) {
  PlanarCopy x(d.x, d.dtype, d.n, c_x, p_x);
  PlanarCopy y = y_is_input ? PlanarCopy(d.y, d.dtype, d.n, c_y, p_y) : PlanarCopy(d.dtype, d.n, c_y, p_y);
  Desc s = d;
  s.channels_last = false;
  s.x = x.data();
  s.y = y.data();
  if constexpr (requires { d.residual; }) {
    PlanarCopy r(d.residual, d.dtype, d.n, c_x, p_x);
    s.residual = r.data();
    run_nchw(s);
  } else {
    run_nchw(s);
  }
  y.store(d.y);
}

} // namespace reference::detail
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
