/// @file
/// The reference backend's context and traits: host memory, nothing to configure.
#pragma once

#include <cstdlib>
#include <cstring>
#include <new>

#include "sana/backend/traits.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace reference {
/// The reference backend has no state; the context exists so every op has the same signature.
struct Context {
  using backend_type = reference_backend;
};
} // namespace reference

namespace detail {
/// Host allocation shared by the host backends, aligned like device memory (256 bytes) so
/// workspace offsets keep the same alignment on every backend.
inline constexpr std::size_t host_alignment = 256;
inline void* host_allocate(std::size_t bytes) {
  if (bytes == 0) bytes = host_alignment;
  const std::size_t rounded = (bytes + host_alignment - 1) / host_alignment * host_alignment;
  void* p = std::aligned_alloc(host_alignment, rounded);
  if (!p) throw std::bad_alloc();
  return p;
}
inline void host_deallocate(void* p) noexcept { std::free(p); }
} // namespace detail

template <>
struct backend_traits<reference_backend> {
  using context_type = reference::Context;
  using space = host_space;
  static constexpr std::string_view name = "reference";
  static void* allocate(std::size_t bytes) { return detail::host_allocate(bytes); }
  static void deallocate(void* p) noexcept { detail::host_deallocate(p); }
  static void upload(context_type&, void* dst, const void* src, std::size_t n) { if (n) std::memcpy(dst, src, n); }
  static void download(context_type&, void* dst, const void* src, std::size_t n) { if (n) std::memcpy(dst, src, n); }
  static void synchronize(context_type&) {}
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
