// conv2d on oneDNN's convolution primitive with plain NCHW / (g)OIHW memory, bias and an
// activation post-op. Plain layouts keep the op zero-copy; blocked layouts are a later optimisation.
#include "internal.hpp"

#include "sana/backend/reference/conv.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

using dnnl::memory;

void kernels<onednn_backend>::run(onednn::Context& ctx, const Conv2dDesc& d) {
  auto& c = ctx.impl();
  if (!onednn::has_dnnl_type(d.dtype)) return reference::run(d);
  const auto dt = onednn::to_dnnl(d.dtype);
  const memory::desc x_md({d.n, d.c_in, d.h, d.w}, dt, memory::format_tag::nchw);
  const memory::desc y_md({d.n, d.c_out, d.h_out, d.w_out}, dt, memory::format_tag::nchw);
  const memory::desc w_md = d.groups == 1
                                ? memory::desc({d.c_out, d.c_in, d.kh, d.kw}, dt, memory::format_tag::oihw)
                                : memory::desc({d.groups, d.c_out / d.groups, d.c_in / d.groups, d.kh, d.kw}, dt,
                                               memory::format_tag::goihw);
  const memory::desc b_md({d.c_out}, dt, memory::format_tag::x);

  std::string key = "conv:" + std::to_string(static_cast<int>(d.dtype));
  for (auto v : {d.n, d.c_in, d.h, d.w, d.c_out, d.kh, d.kw, d.stride_h, d.stride_w, d.pad_h, d.pad_w, d.dil_h, d.dil_w,
                 d.groups})
    key += "," + std::to_string(v);
  key += ":" + std::to_string(d.bias != nullptr) + ":" + std::to_string(static_cast<int>(d.act));

  dnnl::primitive* prim = c.get(key, [&] {
    dnnl::post_ops po;
    onednn::append_activation(po, d.act);
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    // oneDNN counts dilation from 0 (no dilation = 0), PyTorch from 1.
    const memory::dims strides{d.stride_h, d.stride_w}, dil{d.dil_h - 1, d.dil_w - 1}, pad_l{d.pad_h, d.pad_w};
    // Right padding so that oneDNN's output size equals PyTorch's floor division.
    const memory::dims pad_r{(d.h_out - 1) * d.stride_h + (d.kh - 1) * d.dil_h + 1 - d.h - d.pad_h,
                             (d.w_out - 1) * d.stride_w + (d.kw - 1) * d.dil_w + 1 - d.w - d.pad_w};
    auto desc = d.bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                         dnnl::algorithm::convolution_direct, x_md, w_md, b_md, y_md,
                                                         strides, dil, pad_l, pad_r)
                       : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                         dnnl::algorithm::convolution_direct, x_md, w_md, y_md, strides,
                                                         dil, pad_l, pad_r);
    return dnnl::primitive(dnnl::convolution_forward::primitive_desc(desc, attr, c.engine));
  });
  if (!prim) return reference::run(d);

  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(x_md, c.engine, const_cast<void*>(d.x))},
                                       {DNNL_ARG_WEIGHTS, memory(w_md, c.engine, const_cast<void*>(d.weight))},
                                       {DNNL_ARG_DST, memory(y_md, c.engine, d.y)}};
  if (d.bias) args.emplace(DNNL_ARG_BIAS, memory(b_md, c.engine, const_cast<void*>(d.bias)));
  onednn::execute(c, *prim, args);
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
