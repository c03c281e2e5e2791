/// @file
/// What this machine can hold: `machine_memory_bytes()` (physical RAM, or the cgroup v2 limit when lower) and
/// `require_memory`, the one check every request that sizes its own buffers makes before allocating them, so a
/// request too large for the machine fails with what it needs and what there is instead of `std::bad_alloc`.
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/core/number.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// Bytes of memory this machine has (physical RAM, or the cgroup limit when one is set and lower); 0 if unknown.
inline std::uint64_t machine_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  std::uint64_t total = pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page) : 0;
  std::ifstream cg("/sys/fs/cgroup/memory.max");
  std::string limit;
  if (cg >> limit)
    if (const auto v = parse_number<std::uint64_t>(limit); v && *v > 0 && (total == 0 || *v < total)) total = *v;
  return total;
}

/// "[where] <what> needs about X GiB, more than the Y GiB this machine has<hint>" when `bytes` exceed the machine.
inline void require_memory(double bytes, std::string_view where, std::string_view what, std::string_view hint = {}) {
  const std::uint64_t have = machine_memory_bytes();
  if (have == 0 || bytes <= static_cast<double>(have)) return;
  constexpr double gib = 1024.0 * 1024.0 * 1024.0;
  fail(where, what, " needs about ", std::round(bytes / gib * 10) / 10, " GiB, more than the ",
       std::round(static_cast<double>(have) / gib * 10) / 10, " GiB this machine has", hint);
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
