/// @file
/// The documented caps on one generation request (docs/usage.md "Limits"). They stop requests that would run
/// for days or allocate terabytes before any work starts; memory beyond them is estimated per request
/// (`SanaPipeline::estimate_bytes`, checked with `require_memory`) and compared with what the machine has.
#pragma once

#include <cstdint>

#include "sana/core/config.hpp"
#include "sana/core/machine_memory.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

inline constexpr int max_steps = 1000;                    ///< the schedules have 1000 training timesteps
inline constexpr int max_images_per_request = 256;        ///< prompts × images per prompt
inline constexpr std::int64_t max_image_side = 8192;      ///< px; twice the largest Sana model's native size
inline constexpr std::size_t max_prompt_bytes = 1 << 20;  ///< 1 MiB; the encoder keeps ≤ 300 tokens anyway
inline constexpr double max_guidance_scale = 1000.0;      ///< |CFG| and PAG scales

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
