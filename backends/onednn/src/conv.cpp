// conv2d on oneDNN's convolution primitive, bias and an activation post-op fused. Channels-last
// activations are handed to the primitive as they are (its brgemm / depthwise kernels read and write
// NHWC directly: no reorders). Plain NCHW ones are given `any` layouts so oneDNN picks its direct
// kernels on blocked layouts (as PyTorch does) instead of im2col + GEMM on NCHW, and are reordered
// into the chosen layouts around each call, into buffers the context keeps. Weights ((g)OIHW) are
// reordered into the primitive's layout on every call.
#include "internal.hpp"

#include "sana/backend/reference/conv.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

using dnnl::memory;

namespace {

struct ConvMemoryDescs {
  memory::desc x, y, w, b;
};

ConvMemoryDescs plain_descs(const Conv2dDesc& d) {
  const auto dt = onednn::to_dnnl(d.dtype);
  const auto act = d.channels_last ? memory::format_tag::nhwc : memory::format_tag::nchw;
  ConvMemoryDescs m;
  m.x = memory::desc({d.n, d.c_in, d.h, d.w}, dt, act);           // (N, Cin, H, W)
  m.y = memory::desc({d.n, d.c_out, d.h_out, d.w_out}, dt, act);  // (N, Cout, Ho, Wo)
  m.w = d.groups == 1 ? memory::desc({d.c_out, d.c_in, d.kh, d.kw}, dt, memory::format_tag::oihw)
                      : memory::desc({d.groups, d.c_out / d.groups, d.c_in / d.groups, d.kh, d.kw}, dt,
                                     memory::format_tag::goihw);
  m.b = memory::desc({d.c_out}, dt, memory::format_tag::x);
  return m;
}

memory::desc any_like(const memory::desc& md) {
  return memory::desc(md.dims(), md.data_type(), memory::format_tag::any);
}

dnnl::convolution_forward::primitive_desc make_conv_pd(const Conv2dDesc& d, const ConvMemoryDescs& m,
                                                       const dnnl::engine& engine) {
  dnnl::post_ops po;
  onednn::append_activation(po, d.act);
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  // oneDNN counts dilation from 0 (no dilation = 0), PyTorch from 1.
  const memory::dims strides{d.stride_h, d.stride_w}, dil{d.dil_h - 1, d.dil_w - 1}, pad_l{d.pad_h, d.pad_w};
  // Right padding so that oneDNN's output size equals PyTorch's floor division.
  const memory::dims pad_r{(d.h_out - 1) * d.stride_h + (d.kh - 1) * d.dil_h + 1 - d.h - d.pad_h,
                           (d.w_out - 1) * d.stride_w + (d.kw - 1) * d.dil_w + 1 - d.w - d.pad_w};
  const auto w = any_like(m.w);
  const auto x = d.channels_last ? m.x : any_like(m.x), y = d.channels_last ? m.y : any_like(m.y);
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::convolution_direct;
  auto desc = d.bias ? dnnl::convolution_forward::desc(prop, alg, x, w, m.b, y, strides, dil, pad_l, pad_r)
                     : dnnl::convolution_forward::desc(prop, alg, x, w, y, strides, dil, pad_l, pad_r);
  return dnnl::convolution_forward::primitive_desc(desc, attr, engine);
}

/// A plain-layout memory, or the context buffer `slot` reordered from/to it when `chosen` differs.
memory staged(onednn::Context::Impl& c, const memory::desc& plain, const memory::desc& chosen, void* data, int slot,
              bool copy_in) {
  memory user(plain, c.engine, data);
  if (chosen == plain) return user;
  memory blocked(chosen, c.engine, c.buffer(slot, chosen.get_size()));
  if (copy_in) onednn::reorder(c, user, blocked);
  return blocked;
}

} // namespace

void kernels<onednn_backend>::run(onednn::Context& ctx, const Conv2dDesc& d) {
  auto& c = ctx.impl();
  if (!onednn::has_dnnl_type(d.dtype)) return reference::run(d);
  const ConvMemoryDescs m = plain_descs(d);

  std::string key = "conv:" + std::to_string(static_cast<int>(d.dtype));
  for (auto v : {d.n, d.c_in, d.h, d.w, d.c_out, d.kh, d.kw, d.stride_h, d.stride_w, d.pad_h, d.pad_w, d.dil_h, d.dil_w,
                 d.groups})
    key += "," + std::to_string(v);
  key += ":" + std::to_string(d.bias != nullptr) + ":" + std::to_string(static_cast<int>(d.act)) +
         (d.channels_last ? ":nhwc" : ":nchw");

  dnnl::primitive* prim = c.get(key, [&] {
    auto pd = make_conv_pd(d, m, c.engine);
    c.conv_pds.insert_or_assign(key, pd);
    return dnnl::primitive(pd);
  });
  if (!prim) return reference::run(d);
  const auto& pd = c.conv_pds.at(key);

  memory x = staged(c, m.x, pd.src_desc(), const_cast<void*>(d.x), onednn::kConvSrc, true);
  memory w = staged(c, m.w, pd.weights_desc(), const_cast<void*>(d.weight), onednn::kConvWeights, true);
  memory y = staged(c, m.y, pd.dst_desc(), d.y, onednn::kConvDst, false);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}};
  if (d.bias) args.emplace(DNNL_ARG_BIAS, memory(m.b, c.engine, const_cast<void*>(d.bias)));
  onednn::execute(c, *prim, args);
  if (pd.dst_desc() != m.y) onednn::reorder(c, y, memory(m.y, c.engine, d.y));
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
