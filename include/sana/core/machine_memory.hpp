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

/// Caps on model config sizes (docs/io.md): far above every Sana, Gemma-2 and DC-AE model, low enough that products
/// of a few of them cannot overflow int64 before the memory check below sees them.
inline constexpr std::int64_t max_config_dimension = 1 << 20;  ///< widths, channels, heads, vocabulary entries / 64
inline constexpr std::int64_t max_config_layers = 4096;

/// "[where] 'key' = v is above the limit of max" for a config size field.
inline void check_config_size(std::string_view where, std::string_view key, std::int64_t v,
                              std::int64_t max = max_config_dimension) {
  check(v <= max, where, "'", key, "' = ", v, " is above the limit of ", max);
}

/// The weights a config describes must fit the machine (as fp32, the widest dtype they are converted through at
/// load): a config with a huge `num_layers` or `hidden_size` fails here, naming the file, instead of in an allocation.
inline void require_weights_fit(double parameters, std::string_view where, std::string_view what) {
  require_memory(parameters * 4.0, where, std::string(what) + " (" + std::to_string(static_cast<long long>(parameters)) +
                                              " parameters as fp32)");
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
