/// @file
/// One runtime-dtype switch at the top of a reference kernel, templated code below it.
#pragma once

#include <type_traits>

#include "sana/core/dtype.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {

/// Calls f(T{}) with T the storage type of a floating dtype.
template <class F>
decltype(auto) dispatch_float(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::F32: return f(float{});
    case DType::F16: return f(f16{});
    case DType::BF16: return f(bf16{});
    default: fail(op, "unsupported dtype ", dtype_name(t), " (expected f32, f16 or bf16)");
  }
}

/// Like dispatch_float, plus the integer dtypes (for copies).
template <class F>
decltype(auto) dispatch_any(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::F32: return f(float{});
    case DType::F16: return f(f16{});
    case DType::BF16: return f(bf16{});
    case DType::I32: return f(std::int32_t{});
    case DType::I64: return f(std::int64_t{});
    case DType::U8: return f(std::uint8_t{});
  }
  fail(op, "unknown dtype");
}

} // namespace reference
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
