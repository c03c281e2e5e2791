/// @file
/// The reference backend: context/traits plus its kernel table, every entry a plain C++ loop.
#pragma once

#include "sana/backend/reference/context.hpp"
#include "sana/backend/reference/conv.hpp"
#include "sana/backend/reference/elementwise.hpp"
#include "sana/backend/reference/gemm.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

template <>
struct kernels<reference_backend> {
  static void gemm(reference::Context&, const GemmDesc& d) { reference::gemm(d); }
  static void conv2d(reference::Context&, const Conv2dDesc& d) { reference::conv2d(d); }
  static void binary(reference::Context&, const BinaryDesc& d) { reference::binary(d); }
  static void activation(reference::Context&, const ActivationDesc& d) { reference::activation(d); }
  static void lincomb(reference::Context&, const LincombDesc& d) { reference::lincomb(d); }
  static void copy(reference::Context&, const CopyDesc& d) { reference::copy(d); }
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
