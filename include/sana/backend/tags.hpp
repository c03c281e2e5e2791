/// @file
/// Backend tags. A backend is a type chosen at compile time: its tag, a `backend_traits`
/// specialization (context, memory space, allocation, transfers) and a `kernels<Tag>` table.
#pragma once

#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// Plain C++ loops: the oracle every other backend is checked against. Needs nothing.
struct reference_backend {};
/// CPU backend on oneDNN primitives (target `sana::onednn`).
struct onednn_backend {};
/// NVIDIA GPU backend on cuBLASLt and our kernels (target `sana::cuda`).
struct cuda_backend {};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
