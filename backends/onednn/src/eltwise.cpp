// Element-wise ops on oneDNN's binary, eltwise and reorder primitives.
#include "internal.hpp"

#include "sana/backend/reference/elementwise.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

using dnnl::memory;

namespace {
memory::desc md_of(const RawTensor& t) {
  memory::dims sizes(t.sizes.begin(), t.sizes.begin() + t.rank), strides(t.strides.begin(), t.strides.begin() + t.rank);
  for (int i = 0; i < t.rank; ++i)
    if (sizes[i] == 1 && strides[i] == 0) strides[i] = 1;  // a size-1 dim's stride is irrelevant; oneDNN wants > 0
  if (t.rank == 0) return memory::desc({1}, onednn::to_dnnl(t.dtype), memory::dims{1});
  return memory::desc(sizes, onednn::to_dnnl(t.dtype), strides);
}
bool overlapping_strides(const RawTensor& t) {
  for (int i = 0; i < t.rank; ++i)
    if (t.strides[i] == 0 && t.sizes[i] > 1) return true;
  return false;
}
} // namespace

void kernels<onednn_backend>::run(onednn::Context& ctx, const BinaryDesc& d) {
  auto& c = ctx.impl();
  // oneDNN broadcasts size-1 dims; explicit stride-0 dims of full size and aliasing are left to the reference.
  if (overlapping_strides(d.a) || overlapping_strides(d.b) || !onednn::has_dnnl_type(d.out.dtype) ||
      (d.out.data == d.b.data && d.b.numel() != d.out.numel()))
    return reference::run(d);
  dnnl::algorithm alg = dnnl::algorithm::binary_add;
  switch (d.op) {
    case BinaryOp::Add: alg = dnnl::algorithm::binary_add; break;
    case BinaryOp::Sub: alg = dnnl::algorithm::binary_sub; break;
    case BinaryOp::Mul: alg = dnnl::algorithm::binary_mul; break;
    case BinaryOp::Div: alg = dnnl::algorithm::binary_div; break;
  }
  // oneDNN requires src0 to have the destination's shape: swap commutative operands if needed,
  // otherwise (a broadcast into a non-commutative op) use the reference loop.
  RawTensor a = d.a, b = d.b;
  if (a.numel() != d.out.numel()) {
    if (d.op == BinaryOp::Add || d.op == BinaryOp::Mul) std::swap(a, b);
    if (a.numel() != d.out.numel()) return reference::run(d);
  }
  const auto a_md = md_of(a), b_md = md_of(b), o_md = md_of(d.out);
  const std::string key = "binary:" + std::to_string(static_cast<int>(d.op)) + onednn::dims_key(a) + "|" +
                          onednn::dims_key(b) + "|" + onednn::dims_key(d.out);
  dnnl::primitive* prim = c.get(key, [&] {
    return dnnl::primitive(dnnl::binary::primitive_desc(dnnl::binary::desc(alg, a_md, b_md, o_md), c.engine));
  });
  if (!prim) return reference::run(d);
  onednn::execute(c, *prim,
                  {{DNNL_ARG_SRC_0, memory(a_md, c.engine, a.data)},
                   {DNNL_ARG_SRC_1, memory(b_md, c.engine, b.data)},
                   {DNNL_ARG_DST, memory(o_md, c.engine, d.out.data)}});
}

void kernels<onednn_backend>::run(onednn::Context& ctx, const ActivationDesc& d) {
  auto& c = ctx.impl();
  if (d.act == Activation::None) {
    if (d.x != d.y) std::memcpy(d.y, d.x, static_cast<std::size_t>(d.n) * dtype_size(d.dtype));
    return;
  }
  if (!onednn::has_dnnl_type(d.dtype)) return reference::run(d);
  dnnl::algorithm alg = dnnl::algorithm::eltwise_relu;
  float alpha = 0.0f;
  switch (d.act) {
    case Activation::ReLU: alg = dnnl::algorithm::eltwise_relu; break;
    case Activation::SiLU: alg = dnnl::algorithm::eltwise_swish; alpha = 1.0f; break;
    case Activation::GELUTanh: alg = dnnl::algorithm::eltwise_gelu_tanh; break;
    case Activation::None: break;
  }
  const memory::desc md({d.n}, onednn::to_dnnl(d.dtype), memory::format_tag::x);
  const std::string key = "act:" + std::to_string(static_cast<int>(d.act)) + ":" +
                          std::to_string(static_cast<int>(d.dtype)) + ":" + std::to_string(d.n);
  dnnl::primitive* prim = c.get(key, [&] {
    return dnnl::primitive(dnnl::eltwise_forward::primitive_desc(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, alg, md, alpha, 0.0f), c.engine));
  });
  if (!prim) return reference::run(d);
  onednn::execute(c, *prim,
                  {{DNNL_ARG_SRC, memory(md, c.engine, const_cast<void*>(d.x))}, {DNNL_ARG_DST, memory(md, c.engine, d.y)}});
}

void kernels<onednn_backend>::run(onednn::Context& ctx, const CopyDesc& d) {
  auto& c = ctx.impl();
  if (!onednn::has_dnnl_type(d.src.dtype) || !onednn::has_dnnl_type(d.dst.dtype) || overlapping_strides(d.src) ||
      overlapping_strides(d.dst) || d.src.rank == 0)
    return reference::run(d);
  const auto s_md = md_of(d.src), d_md = md_of(d.dst);
  const std::string key = "copy:" + onednn::dims_key(d.src) + "|" + onednn::dims_key(d.dst);
  dnnl::primitive* prim = c.get(key, [&] {
    return dnnl::primitive(dnnl::reorder(dnnl::reorder::primitive_desc(c.engine, s_md, c.engine, d_md)));
  });
  if (!prim) return reference::run(d);
  onednn::execute(c, *prim,
                  {{DNNL_ARG_FROM, memory(s_md, c.engine, d.src.data)}, {DNNL_ARG_TO, memory(d_md, c.engine, d.dst.data)}});
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
