// GEMM on oneDNN's matmul primitive. Transposes become strides of the memory descriptors;
// bias, activation and beta become bias / post-ops, in the order GemmDesc defines:
// C = act(alpha * A·B + bias) + beta * C.
#include "internal.hpp"

#include "sana/backend/reference/gemm.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

using dnnl::memory;

namespace {

void run_matmul(onednn::Context::Impl& c, const GemmDesc& d) {
  const auto dt = onednn::to_dnnl(d.dtype);
  // A batch stride of 0 is a broadcast: oneDNN expresses it as a batch dimension of 1.
  const memory::dim ba = d.stride_a == 0 ? 1 : d.batch, bb = d.stride_b == 0 ? 1 : d.batch;
  auto bstride = [](std::int64_t s, std::int64_t rows, std::int64_t ld) { return s != 0 ? s : rows * ld; };
  const memory::desc a_md({ba, d.m, d.k}, dt,
                          d.trans_a ? memory::dims{bstride(d.stride_a, d.k, d.lda), 1, d.lda}
                                    : memory::dims{bstride(d.stride_a, d.m, d.lda), d.lda, 1});
  const memory::desc b_md({bb, d.k, d.n}, dt,
                          d.trans_b ? memory::dims{bstride(d.stride_b, d.n, d.ldb), 1, d.ldb}
                                    : memory::dims{bstride(d.stride_b, d.k, d.ldb), d.ldb, 1});
  const memory::desc c_md({d.batch, d.m, d.n}, dt, {bstride(d.stride_c, d.m, d.ldc), d.ldc, 1});
  const memory::desc bias_md({1, 1, d.n}, dt, {d.n, d.n, 1});
  // With alpha != 1 the scale must come before the bias, so the bias moves into a binary post-op.
  const bool bias_in_primitive = d.bias && d.alpha == 1.0f;
  const bool bias_as_post_op = d.bias && !bias_in_primitive;

  std::string key = "gemm:" + std::to_string(static_cast<int>(d.dtype));
  for (auto v : {d.batch, d.m, d.n, d.k, d.lda, d.stride_a, d.ldb, d.stride_b, d.ldc, d.stride_c})
    key += "," + std::to_string(v);
  key += ":" + std::to_string(d.trans_a) + std::to_string(d.trans_b) + std::to_string(d.bias != nullptr) + ":" +
         std::to_string(d.alpha) + ":" + std::to_string(d.beta) + ":" + std::to_string(static_cast<int>(d.act));

  dnnl::primitive* prim = c.get(key, [&] {
    dnnl::post_ops po;
    if (d.alpha != 1.0f) po.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, d.alpha, 0.0f);
    if (bias_as_post_op) po.append_binary(dnnl::algorithm::binary_add, bias_md);
    onednn::append_activation(po, d.act);
    if (d.beta != 0.0f) po.append_sum(d.beta);
    dnnl::primitive_attr attr;
    attr.set_post_ops(po);
    auto desc = bias_in_primitive ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md) : dnnl::matmul::desc(a_md, b_md, c_md);
    return dnnl::primitive(dnnl::matmul::primitive_desc(desc, attr, c.engine));
  });
  if (!prim) return reference::run(d);  // falls back on the whole descriptor, packed or not

  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(a_md, c.engine, const_cast<void*>(d.a))},
      {DNNL_ARG_WEIGHTS, memory(b_md, c.engine, const_cast<void*>(d.b))},
      {DNNL_ARG_DST, memory(c_md, c.engine, d.c)}};
  if (bias_in_primitive) args.emplace(DNNL_ARG_BIAS, memory(bias_md, c.engine, const_cast<void*>(d.bias)));
  if (bias_as_post_op) {
    const int idx = d.alpha != 1.0f ? 1 : 0;  // the binary post-op's position in the chain
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(idx) | DNNL_ARG_SRC_1,
                 memory(bias_md, c.engine, const_cast<void*>(d.bias)));
  }
  onednn::execute(c, *prim, args);
}

/// A batched operand stored as `batch` (rows x cols) matrices whose batch stride is smaller than a
/// matrix (per-head column blocks of one token-major tensor, as multi-head attention passes them).
struct StridedBatch {
  std::int64_t batch, rows, cols, ld, stride;
  bool interleaved() const { return batch > 1 && stride != 0 && stride < rows * ld; }
  memory::desc strided(memory::data_type dt) const { return memory::desc({batch, rows, cols}, dt, {stride, ld, 1}); }
  memory::desc dense(memory::data_type dt) const { return memory::desc({batch, rows, cols}, dt, memory::format_tag::abc); }
};

/// Copies an interleaved operand into context buffer `slot` as dense matrices; returns the buffer.
void* pack(onednn::Context::Impl& c, const StridedBatch& s, memory::data_type dt, const void* data, int slot) {
  const auto dense = s.dense(dt);
  void* buf = c.buffer(slot, dense.get_size());
  onednn::reorder(c, memory(s.strided(dt), c.engine, const_cast<void*>(data)), memory(dense, c.engine, buf));
  return buf;
}

} // namespace

// oneDNN's brgemm matmul (AMX / AVX-512) takes only dense batch layouts; an interleaved batch (the
// per-head views of attention) would run its generic gemm:jit at a fraction of the rate. Such operands
// are packed into dense buffers first, and an interleaved output is computed densely and scattered.
void kernels<onednn_backend>::run(onednn::Context& ctx, const GemmDesc& d) {
  auto& c = ctx.impl();
  if (!onednn::has_dnnl_type(d.dtype)) return reference::run(d);
  const auto dt = onednn::to_dnnl(d.dtype);
  const StridedBatch a{d.batch, d.trans_a ? d.k : d.m, d.trans_a ? d.m : d.k, d.lda, d.stride_a};
  const StridedBatch b{d.batch, d.trans_b ? d.n : d.k, d.trans_b ? d.k : d.n, d.ldb, d.stride_b};
  const StridedBatch o{d.batch, d.m, d.n, d.ldc, d.stride_c};
  if (!a.interleaved() && !b.interleaved() && !o.interleaved()) return run_matmul(c, d);
  GemmDesc p = d;
  if (a.interleaved()) {
    p.a = pack(c, a, dt, d.a, onednn::kGemmA);
    p.lda = a.cols;
    p.stride_a = a.rows * a.cols;
  }
  if (b.interleaved()) {
    p.b = pack(c, b, dt, d.b, onednn::kGemmB);
    p.ldb = b.cols;
    p.stride_b = b.rows * b.cols;
  }
  if (o.interleaved()) {
    p.c = d.beta != 0.0f ? pack(c, o, dt, d.c, onednn::kGemmC) : c.buffer(onednn::kGemmC, o.dense(dt).get_size());
    p.ldc = o.cols;
    p.stride_c = o.rows * o.cols;
  }
  run_matmul(c, p);
  if (o.interleaved())
    onednn::reorder(c, memory(o.dense(dt), c.engine, p.c), memory(o.strided(dt), c.engine, d.c));
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
