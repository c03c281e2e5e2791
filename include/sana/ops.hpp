/// @file
/// Umbrella for the generic ops.
#pragma once

#include "sana/ops/conv2d.hpp"
#include "sana/ops/dit.hpp"
#include "sana/ops/dcae.hpp"
#include "sana/ops/elementwise.hpp"
#include "sana/ops/linear.hpp"
#include "sana/ops/text.hpp"
