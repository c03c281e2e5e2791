/// @file
/// The oneDNN CPU backend: context (engine, stream, primitive cache) and its kernel table.
/// Host-only and free of oneDNN headers, so consumers need only a C++20 compiler and the library.
#pragma once

#ifndef SANA_WITH_ONEDNN
#error "sana/backends/onednn/onednn.hpp needs the sana::onednn target (link it to define SANA_WITH_ONEDNN)"
#endif

#include <cstddef>
#include <memory>
#include <string_view>

#include "sana/backend/descriptors.hpp"
#include "sana/backend/descriptors_dcae.hpp"
#include "sana/backend/descriptors_dit.hpp"
#include "sana/backend/descriptors_text.hpp"
#include "sana/backend/reference/context.hpp"
#include "sana/backend/traits.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace onednn {

/// Owns a oneDNN CPU engine and stream, and caches primitives by descriptor so a model's
/// repeated calls reuse them. Move-only; not thread-safe (use one per thread).
class Context {
public:
  using backend_type = onednn_backend;
  Context();
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  /// Number of primitives created so far (tests check that repeated calls hit the cache).
  std::size_t primitives_created() const;

  struct Impl;
  Impl& impl() { return *impl_; }

private:
  std::unique_ptr<Impl> impl_;
};

} // namespace onednn

template <>
struct backend_traits<onednn_backend> {
  using context_type = onednn::Context;
  using space = host_space;
  static constexpr std::string_view name = "onednn";
  // oneDNN's direct / brgemm convolutions read and write NHWC without reorders.
  static constexpr MemoryFormat activation_format = MemoryFormat::ChannelsLast;
  static void* allocate(std::size_t bytes) { return detail::host_allocate(bytes); }
  static void deallocate(void* p) noexcept { detail::host_deallocate(p); }
  static void upload(context_type&, void* dst, const void* src, std::size_t n) { if (n) std::memcpy(dst, src, n); }
  static void download(context_type&, void* dst, const void* src, std::size_t n) { if (n) std::memcpy(dst, src, n); }
  static void synchronize(context_type&) {}
};

/// oneDNN kernels. Each falls back to the reference kernel for the cases oneDNN cannot
/// implement on this CPU (e.g. a dtype without hardware support), so results never depend on it.
template <>
struct kernels<onednn_backend> {
  static void run(onednn::Context&, const GemmDesc&);
  static void run(onednn::Context&, const Conv2dDesc&);
  static void run(onednn::Context&, const BinaryDesc&);
  static void run(onednn::Context&, const ActivationDesc&);
  static void run(onednn::Context&, const CopyDesc&);
  // Linear-DiT family (descriptors_dit.hpp): AVX-512 kernels of our own or the reference loops, threaded.
  static void run(onednn::Context&, const ModulatedLayerNormDesc&);
  static void run(onednn::Context&, const RmsNormDesc&);
  static void run(onednn::Context&, const LinearAttentionDesc&);
  static void run(onednn::Context&, const SoftmaxDesc&);
  static void run(onednn::Context&, const DepthwiseGluDesc&);
  static void run(onednn::Context&, const GatedResidualDesc&);
  // DC-AE family (descriptors_dcae.hpp).
  static void run(onednn::Context&, const ChannelRmsNormDesc&);
  static void run(onednn::Context&, const GluDesc&);
  static void run(onednn::Context&, const MultiscaleAttentionDesc&);
  static void run(onednn::Context&, const UpsampleNearest2xDesc&);
  static void run(onednn::Context&, const PixelShuffleDesc&);
  // Gemma-2 family (descriptors_text.hpp).
  static void run(onednn::Context&, const GemmaRmsNormDesc&);
  static void run(onednn::Context&, const RotaryEmbeddingDesc&);
  static void run(onednn::Context&, const AttentionSoftmaxDesc&);
};

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
