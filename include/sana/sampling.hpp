/// @file
/// Umbrella header of the standalone sampling library (target `sana::sampling`): schedules,
/// samplers, guidance and the generic driver. Depends only on the standard library.
#pragma once

#include "sana/sampling/flow_dpm_solver.hpp"
#include "sana/sampling/flow_euler.hpp"
#include "sana/sampling/flow_heun.hpp"
#include "sana/sampling/flow_unipc.hpp"
#include "sana/sampling/guidance.hpp"
#include "sana/sampling/lincomb.hpp"
#include "sana/sampling/sample.hpp"
#include "sana/sampling/sampler.hpp"
#include "sana/sampling/schedule.hpp"
#include "sana/sampling/scm.hpp"
#include "sana/sampling/step_buffers.hpp"
#include "sana/sampling/step_record.hpp"
