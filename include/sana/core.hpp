/// @file
/// Umbrella for the tensor core: dtypes, shapes, views, owning tensors, workspaces.
#pragma once

#include "sana/core/dtype.hpp"
#include "sana/core/error.hpp"
#include "sana/core/shape.hpp"
#include "sana/core/tensor.hpp"
#include "sana/core/tensor_view.hpp"
#include "sana/core/workspace.hpp"
