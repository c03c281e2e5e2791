// Internal to the oneDNN backend: splitting an op's rows across oneDNN's OpenMP threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <omp.h>

#include "sana/core/dtype.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace onednn {

inline std::size_t elem_size(DType t) { return t == DType::F32 ? 4 : 2; }

/// p advanced by `elements` elements of the float dtype t.
template <class P>
P offset(P p, std::int64_t elements, DType t) {
  using Byte = std::conditional_t<std::is_const_v<std::remove_pointer_t<P>>, const char, char>;
  return static_cast<P>(static_cast<Byte*>(p) + elements * static_cast<std::int64_t>(elem_size(t)));
}

/// Calls f(begin, end) over [0, n) in about 4 chunks per thread (serially when small).
template <class F>
inline void parallel_chunks(std::int64_t n, std::int64_t min_chunk, F&& f) {
  const int threads = omp_get_max_threads();
  const std::int64_t chunks = std::max<std::int64_t>(1, std::min<std::int64_t>(4 * threads, n / std::max<std::int64_t>(1, min_chunk)));
  if (chunks <= 1 || threads <= 1) {
    f(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t c = 0; c < chunks; ++c) f(n * c / chunks, n * (c + 1) / chunks);
}

/// Calls f(b, begin, end) over the rows of each batch item, the (batch x rows) range split as above.
template <class F>
inline void for_batch_rows(std::int64_t batch, std::int64_t rows, std::int64_t min_chunk, F&& f) {
  parallel_chunks(batch * rows, min_chunk, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1;) {
      const std::int64_t b = r / rows, first = r % rows, count = std::min(rows - first, r1 - r);
      f(b, first, first + count);
      r += count;
    }
  });
}

} // namespace onednn
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
