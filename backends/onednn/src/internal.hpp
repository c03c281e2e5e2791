// Internal to the oneDNN backend: the context's innards and helpers shared by the kernel files.
#pragma once

#include <dnnl.hpp>

#include <string>
#include <unordered_map>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace onednn {

struct Context::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<std::string, dnnl::primitive> cache;
  std::size_t created = 0;  // primitives oneDNN implemented (fallbacks to the reference are not counted)

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

inline std::string dims_key(const RawTensor& t) {
  std::string k = std::to_string(static_cast<int>(t.dtype)) + ":";
  for (int i = 0; i < t.rank; ++i) k += std::to_string(t.sizes[i]) + "/" + std::to_string(t.strides[i]) + ",";
  return k;
}

} // namespace onednn
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
