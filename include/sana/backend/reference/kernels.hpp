/// @file
/// The reference backend: context/traits plus every reference kernel (`reference::run` overloads,
/// one per descriptor type). Its kernel table stays empty: ops reach `reference::run` directly.
#pragma once

#include "sana/backend/reference/context.hpp"
#include "sana/backend/reference/conv.hpp"
#include "sana/backend/reference/dit.hpp"
#include "sana/backend/reference/dcae.hpp"
#include "sana/backend/reference/elementwise.hpp"
#include "sana/backend/reference/gemm.hpp"
#include "sana/backend/reference/text.hpp"
