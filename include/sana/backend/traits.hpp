/// @file
/// `backend_traits<B>` and the `Backend` concept; `kernels<B>` is the per-backend op table.
#pragma once

#include <cstddef>
#include <string_view>
#include <type_traits>

#include "sana/backend/tags.hpp"
#include "sana/core/memory_format.hpp"
#include "sana/core/memory_space.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

/// Specialized per backend. Members:
///   using context_type;  using space;  static constexpr std::string_view name;
///   static void* allocate(std::size_t bytes);  static void deallocate(void*) noexcept;
///   static void upload(context_type&, void* dst, const void* host_src, std::size_t bytes);
///   static void download(context_type&, void* host_dst, const void* src, std::size_t bytes);
///   static void synchronize(context_type&);
///   optional: static constexpr MemoryFormat activation_format;  (see preferred_activation_format)
template <class B>
struct backend_traits;

/// Op table of a backend: static functions over descriptors (see descriptors.hpp).
/// An op a backend lacks is simply absent; host backends then fall back to the reference kernel.
template <class B>
struct kernels {};

template <class B>
concept Backend = requires(typename backend_traits<B>::context_type& ctx, void* p, const void* cp, std::size_t n) {
  typename backend_traits<B>::space;
  { backend_traits<B>::name } -> std::convertible_to<std::string_view>;
  { backend_traits<B>::allocate(n) } -> std::same_as<void*>;
  backend_traits<B>::deallocate(p);
  backend_traits<B>::upload(ctx, p, cp, n);
  backend_traits<B>::download(ctx, p, cp, n);
  backend_traits<B>::synchronize(ctx);
};

template <class B>
using context_t = typename backend_traits<B>::context_type;
template <class B>
using space_t = typename backend_traits<B>::space;
/// The memory format a backend's convolutional models (the DC-AE) keep their activations in: the
/// backend's `backend_traits<B>::activation_format` where it declares one, else contiguous NCHW.
template <class B>
constexpr MemoryFormat preferred_activation_format() {
  if constexpr (requires { backend_traits<B>::activation_format; })
    return backend_traits<B>::activation_format;
  else
    return MemoryFormat::Contiguous;
}

template <class B>
inline constexpr bool is_host_backend_v = std::is_same_v<space_t<B>, host_space>;

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
