/// @file
/// Memory spaces as types, so a host buffer handed to a device op is a compile error.
#pragma once

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// Ordinary host memory, dereferenceable on the CPU.
struct host_space {};
/// Accelerator memory, reachable only through its backend.
struct device_space {};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
