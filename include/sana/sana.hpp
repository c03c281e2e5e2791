/// @file
/// Umbrella header: tensor core, reference backend and generic ops. Backend headers
/// (sana/backends/onednn/onednn.hpp, sana/backends/cuda/cuda.hpp) come with their targets.
#pragma once

#include "sana/backend/reference/kernels.hpp"
#include "sana/core.hpp"
#include "sana/ops.hpp"
