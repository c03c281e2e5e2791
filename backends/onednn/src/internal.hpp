// Internal to the oneDNN backend: the context's innards and helpers shared by the kernel files.
#pragma once

#include <dnnl.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace onednn {

/// Context buffer slots (`Context::Impl::buffer`): each kernel file keeps its scratch in its own slots.
enum BufferSlot : int {
  kConvSrc, kConvWeights, kConvDst,           // conv.cpp: the layouts the convolution chose
  kGemmA, kGemmB, kGemmC,                     // matmul.cpp: packed interleaved batches
  kLinearAttentionStates, kDepthwiseTaps,     // dit.cpp
};

struct Context::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<std::string, dnnl::primitive> cache;
  std::size_t created = 0;  // primitives oneDNN implemented (fallbacks to the reference are not counted)
  // Convolutions choose their own (blocked) layouts; their descriptors say which, by the same key.
  std::unordered_map<std::string, dnnl::convolution_forward::primitive_desc> conv_pds;

  /// Scratch buffer `slot` of at least `bytes` (64-byte aligned); grows, never shrinks.
  void* buffer(int slot, std::size_t bytes) {
    if (buffers.size() <= static_cast<std::size_t>(slot)) buffers.resize(static_cast<std::size_t>(slot) + 1);
    auto& b = buffers[static_cast<std::size_t>(slot)];
    if (b.bytes < bytes) {
      b.data.reset();
      const std::size_t rounded = (bytes + 63) / 64 * 64;
      b.data.reset(static_cast<char*>(std::aligned_alloc(64, rounded)));
      if (!b.data) fail("onednn", "out of memory allocating a ", bytes, "-byte layout buffer");
      b.bytes = rounded;
    }
    return b.data.get();
  }

  /// Returns the cached primitive for `key`, building it with `make()` on first use.
  /// Returns an empty primitive when oneDNN cannot implement it (the caller falls back).
  template <class Make>
  dnnl::primitive* get(const std::string& key, Make&& make) {
    auto it = cache.find(key);
    if (it == cache.end()) {
      dnnl::primitive p;
      try {
        p = make();
      } catch (const dnnl::error& e) {
        if (e.status != dnnl_unimplemented) fail("onednn", "creating primitive ", key, ": ", e.what());
      }
      if (p) ++created;
      it = cache.emplace(key, std::move(p)).first;
    }
    return it->second ? &it->second : nullptr;
  }

private:
  struct FreeDeleter {
    void operator()(char* p) const noexcept { std::free(p); }
  };
  struct Buffer {
    std::unique_ptr<char, FreeDeleter> data;
    std::size_t bytes = 0;
  };
  std::vector<Buffer> buffers;
};

inline dnnl::memory::data_type to_dnnl(DType t) {
  switch (t) {
    case DType::F32: return dnnl::memory::data_type::f32;
    case DType::F16: return dnnl::memory::data_type::f16;
    case DType::BF16: return dnnl::memory::data_type::bf16;
    case DType::I32: return dnnl::memory::data_type::s32;
    case DType::U8: return dnnl::memory::data_type::u8;
    default: fail("onednn", "dtype ", dtype_name(t), " has no oneDNN equivalent");
  }
}

inline bool has_dnnl_type(DType t) { return t != DType::I64; }

/// Appends an activation as an eltwise post-op; returns false for none.
inline void append_activation(dnnl::post_ops& po, Activation act) {
  switch (act) {
    case Activation::None: break;
    case Activation::ReLU: po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f); break;
    case Activation::SiLU: po.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f); break;
    case Activation::GELUTanh: po.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.0f, 0.0f); break;
  }
}

/// Runs a primitive with its arguments and waits (the CPU stream is in-order; waiting keeps
/// host-side reads after an op correct without a separate synchronize).
inline void execute(Context::Impl& c, dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args) {
  p.execute(c.stream, args);
  c.stream.wait();
}

/// Copies `from` into `to` (same logical tensor, different layouts) with a reorder primitive
/// (oneDNN's own primitive cache makes the repeated creation a lookup).
inline void reorder(Context::Impl& c, const dnnl::memory& from, const dnnl::memory& to) {
  dnnl::reorder(from, to).execute(c.stream, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  c.stream.wait();
}

inline std::string dims_key(const RawTensor& t) {
  std::string k = std::to_string(static_cast<int>(t.dtype)) + ":";
  for (int i = 0; i < t.rank; ++i) k += std::to_string(t.sizes[i]) + "/" + std::to_string(t.strides[i]) + ",";
  return k;
}

} // namespace onednn
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
