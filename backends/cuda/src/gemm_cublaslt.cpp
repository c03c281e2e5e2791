/// @file
/// Row-major batched GEMM on cuBLASLt.
///
/// cuBLASLt is column-major. A row-major (r x c) matrix with row stride ld is, read column-major,
/// its (c x r) transpose with the same ld. So the row-major product C = op(A) op(B) (m x n) is
/// computed as the column-major product C^T = op(B)^T op(A)^T (n x m): cuBLASLt's "A" is our B,
/// its "B" is our A, and its problem size is (M, N, K) = (n, m, k). A Linear weight stored (n x k)
/// (trans_b) becomes cuBLASLt's A with CUBLAS_OP_T. The bias (length n, indexed by our column j)
/// runs along the rows of cuBLASLt's D, which is exactly what CUBLASLT_EPILOGUE_BIAS broadcasts.
///
/// Epilogues. The descriptor asks for C = act(alpha A B + bias) + beta C; cuBLASLt computes
/// D = act(alpha A B + beta C + bias). They agree when act is None, or when beta == 0; then
/// bias / bias+ReLU / bias+GELU are fused (cuBLASLt's GELU is the tanh approximation). Otherwise
/// (SiLU, or an activation with beta != 0, or a fused plan the heuristic cannot serve) cuBLASLt
/// writes alpha A B in fp32 -- into C itself when C is fp32 and beta == 0, else into the context's
/// scratch buffer -- and gemm_epilogue.cu applies bias, activation and beta C with one rounding.
///
/// Precision: compute type CUBLAS_COMPUTE_32F with fp32 scale for every dtype (no TF32 for f32).

#include <cstdint>
#include <limits>

#include "context_impl.hpp"
#include "gemm_epilogue.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {

namespace {
using cuda::detail::GemmPlan;
using cuda::detail::GemmPlanKey;

cudaDataType_t lt_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
    default: fail("gemm", "unsupported dtype ", dtype_name(t), " (expected f32, f16 or bf16)");
  }
}

/// Largest power of two (<= 256) dividing the address of every batch entry.
std::int32_t alignment_of(const void* p, std::int64_t batch, std::int64_t batch_stride_elems, std::size_t elem) {
  if (!p) return 0;
  std::uint64_t v = reinterpret_cast<std::uintptr_t>(p);
  if (batch > 1) v |= static_cast<std::uint64_t>(batch_stride_elems) * elem;
  std::int32_t a = 256;
  while (a > 1 && (v % static_cast<std::uint64_t>(a)) != 0) a /= 2;
  return a;
}

template <class V>
void set_desc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, const V& v) {
  SANA_CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof(v)));
}
template <class V>
void set_layout(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t attr, const V& v) {
  SANA_CUBLASLT_CHECK(cublasLtMatrixLayoutSetAttribute(l, attr, &v, sizeof(v)));
}

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, std::int64_t rows, std::int64_t cols, std::int64_t ld,
                                   std::int64_t batch, std::int64_t batch_stride) {
  cublasLtMatrixLayout_t l = nullptr;
  SANA_CUBLASLT_CHECK(cublasLtMatrixLayoutCreate(&l, type, static_cast<std::uint64_t>(rows),
                                                 static_cast<std::uint64_t>(cols), ld));
  try {
    if (batch > 1) {
      set_layout(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, static_cast<std::int32_t>(batch));
      set_layout(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, batch_stride);
    }
  } catch (...) {
    cublasLtMatrixLayoutDestroy(l);
    throw;
  }
  return l;
}

/// What one cuBLASLt call should compute.
struct LtCall {
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  bool d_f32 = false;   // D is fp32 (scratch, or C of an f32 GEMM used as the fp32 intermediate)
  void* d = nullptr;    // D (= C) pointer
  std::int64_t ldd = 0, stride_d = 0;
  const void* bias = nullptr;  // only with a BIAS epilogue
  float beta = 0.0f;
};

/// The cached plan for (desc, call), built on first use; null when cuBLASLt has no algorithm for it.
GemmPlan* find_plan(cuda::Context::Impl& im, const GemmDesc& g, const LtCall& call) {
  const std::size_t esz = dtype_size(g.dtype);
  GemmPlanKey key;
  key.batch = g.batch;
  key.m = g.m;
  key.n = g.n;
  key.k = g.k;
  key.lda = g.lda;
  key.ldb = g.ldb;
  key.ldc = call.ldd;
  key.stride_a = g.batch > 1 ? g.stride_a : 0;
  key.stride_b = g.batch > 1 ? g.stride_b : 0;
  key.stride_c = g.batch > 1 ? call.stride_d : 0;
  key.dtype = static_cast<std::int32_t>(g.dtype);
  key.epilogue = static_cast<std::int32_t>(call.epilogue);
  key.d_f32 = call.d_f32;
  key.align_a = alignment_of(g.a, g.batch, g.stride_a, esz);
  key.align_b = alignment_of(g.b, g.batch, g.stride_b, esz);
  key.align_c = alignment_of(call.d, g.batch, call.stride_d, call.d_f32 ? 4 : esz);
  key.align_bias = alignment_of(call.bias, 1, 0, esz);
  key.trans_a = g.trans_a;
  key.trans_b = g.trans_b;

  if (auto it = im.plans.find(key); it != im.plans.end()) return it->second.get();

  const cudaDataType_t ab = lt_type(g.dtype);
  const cudaDataType_t dt = call.d_f32 ? CUDA_R_32F : ab;
  auto plan = std::make_unique<GemmPlan>();
  SANA_CUBLASLT_CHECK(cublasLtMatmulDescCreate(&plan->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  // cuBLASLt's A is our B, its B is our A (see the file comment).
  set_desc(plan->op, CUBLASLT_MATMUL_DESC_TRANSA, static_cast<std::int32_t>(g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N));
  set_desc(plan->op, CUBLASLT_MATMUL_DESC_TRANSB, static_cast<std::int32_t>(g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N));
  set_desc(plan->op, CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<std::uint32_t>(call.epilogue));
  if (call.bias) set_desc(plan->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, call.bias);  // heuristics read its alignment

  plan->a = make_layout(ab, g.trans_b ? g.k : g.n, g.trans_b ? g.n : g.k, g.ldb, g.batch, g.stride_b);
  plan->b = make_layout(ab, g.trans_a ? g.m : g.k, g.trans_a ? g.k : g.m, g.lda, g.batch, g.stride_a);
  plan->c = make_layout(dt, g.n, g.m, call.ldd, g.batch, call.stride_d);

  cublasLtMatmulPreference_t pref = nullptr;
  SANA_CUBLASLT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  cublasLtMatmulHeuristicResult_t result{};
  int returned = 0;
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  try {
    auto set_pref = [&](cublasLtMatmulPreferenceAttributes_t attr, auto v) {
      SANA_CUBLASLT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &v, sizeof(v)));
    };
    set_pref(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, static_cast<std::uint64_t>(im.lt_workspace_bytes));
    set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, static_cast<std::uint32_t>(key.align_b));
    set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, static_cast<std::uint32_t>(key.align_a));
    set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, static_cast<std::uint32_t>(key.align_c));
    set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, static_cast<std::uint32_t>(key.align_c));
    status = cublasLtMatmulAlgoGetHeuristic(im.lt, plan->op, plan->a, plan->b, plan->c, plan->c, pref, 1, &result,
                                            &returned);
  } catch (...) {
    cublasLtMatmulPreferenceDestroy(pref);
    throw;
  }
  cublasLtMatmulPreferenceDestroy(pref);

  // No algorithm: remembered as a null plan. A fused epilogue may also be refused outright (e.g. an
  // epilogue the library rejects for this layout); the caller then takes the unfused path.
  const bool refused = status == CUBLAS_STATUS_NOT_SUPPORTED ||
                       (status != CUBLAS_STATUS_SUCCESS && call.epilogue != CUBLASLT_EPILOGUE_DEFAULT);
  if (refused || (status == CUBLAS_STATUS_SUCCESS && returned == 0)) {
    im.plans.emplace(key, nullptr);  // remember that this combination has no algorithm
    return nullptr;
  }
  SANA_CUBLASLT_CHECK(status);
  plan->algo = result.algo;
  plan->workspace_bytes = result.workspaceSize;
  GemmPlan* p = plan.get();
  im.plans.emplace(key, std::move(plan));
  return p;
}

void run_plan(cuda::Context::Impl& im, GemmPlan& plan, const GemmDesc& g, const LtCall& call) {
  if (call.bias) set_desc(plan.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, call.bias);
  const float alpha = g.alpha;
  const float beta = call.beta;
  // cuBLASLt's A is our B, its B is our A.
  SANA_CUBLASLT_CHECK(cublasLtMatmul(im.lt, plan.op, &alpha, g.b, plan.a, g.a, plan.b, &beta, call.d, plan.c,
                                     call.d, plan.c, &plan.algo, im.lt_workspace, plan.workspace_bytes, im.stream));
}

cublasLtEpilogue_t fused_epilogue(bool bias, Activation act) {
  switch (act) {
    case Activation::None: return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    case Activation::ReLU: return bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    case Activation::GELUTanh: return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    default: return CUBLASLT_EPILOGUE_DEFAULT;
  }
}

void validate(const GemmDesc& g) {
  check(g.batch >= 0 && g.m >= 0 && g.n >= 0 && g.k >= 0, "gemm", "negative size (batch=", g.batch, " m=", g.m,
        " n=", g.n, " k=", g.k, ")");
  check(g.batch <= std::numeric_limits<std::int32_t>::max(), "gemm", "batch ", g.batch, " above INT32_MAX");
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  check(g.c != nullptr, "gemm", "null C");
  check(g.ldc >= g.n, "gemm", "ldc ", g.ldc, " < n ", g.n);
  if (g.k == 0) return;
  check(g.a != nullptr && g.b != nullptr, "gemm", "null A or B");
  const std::int64_t a_cols = g.trans_a ? g.m : g.k;
  const std::int64_t b_cols = g.trans_b ? g.k : g.n;
  check(g.lda >= a_cols, "gemm", "lda ", g.lda, " < ", a_cols, g.trans_a ? " (A is k x m)" : " (A is m x k)");
  check(g.ldb >= b_cols, "gemm", "ldb ", g.ldb, " < ", b_cols, g.trans_b ? " (B is n x k)" : " (B is k x n)");
}
} // namespace

void kernels<cuda_backend>::run(cuda::Context& ctx, const GemmDesc& g) {
  validate(g);
  if (g.batch == 0 || g.m == 0 || g.n == 0) return;
  auto& im = ctx.impl();
  const bool has_bias = g.bias != nullptr;

  cuda::detail::GemmEpilogueArgs ep;
  ep.dtype = g.dtype;
  ep.batch = g.batch;
  ep.m = g.m;
  ep.n = g.n;
  ep.bias = g.bias;
  ep.act = g.act;
  ep.beta = g.beta;
  ep.c = g.c;
  ep.ldc = g.ldc;
  ep.stride_c = g.stride_c;

  if (g.k == 0) {  // alpha * A B is an empty sum
    (void)lt_type(g.dtype);
    cuda::detail::launch_gemm_epilogue(im.stream, ep);
    return;
  }

  // 1. Everything in cuBLASLt when its epilogue order matches ours.
  const bool fusable = g.act == Activation::None ||
                       ((g.act == Activation::ReLU || g.act == Activation::GELUTanh) && g.beta == 0.0f);
  if (fusable) {
    LtCall call;
    call.epilogue = fused_epilogue(has_bias, g.act);
    call.d = g.c;
    call.ldd = g.ldc;
    call.stride_d = g.stride_c;
    call.bias = g.bias;
    call.beta = g.beta;
    if (GemmPlan* plan = find_plan(im, g, call)) {
      run_plan(im, *plan, g, call);
      return;
    }
  }

  // 2. cuBLASLt computes alpha A B in fp32; our epilogue adds bias, activation and beta C.
  LtCall call;
  call.epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  call.d_f32 = true;
  call.beta = 0.0f;
  if (g.dtype == DType::F32 && g.beta == 0.0f) {  // C itself can hold the fp32 intermediate
    call.d = g.c;
    call.ldd = g.ldc;
    call.stride_d = g.stride_c;
  } else {
    call.d = im.scratch(static_cast<std::size_t>(g.batch * g.m * g.n) * sizeof(float));
    call.ldd = g.n;
    call.stride_d = g.m * g.n;
  }
  GemmPlan* plan = find_plan(im, g, call);
  check(plan != nullptr, "gemm", "cuBLASLt has no algorithm for batch=", g.batch, " m=", g.m, " n=", g.n,
        " k=", g.k, " dtype=", dtype_name(g.dtype), " lda=", g.lda, " ldb=", g.ldb, " ldc=", g.ldc);
  run_plan(im, *plan, g, call);
  ep.t = static_cast<const float*>(call.d);
  ep.ldt = call.ldd;
  ep.stride_t = call.stride_d;
  cuda::detail::launch_gemm_epilogue(im.stream, ep);
}

} // namespace SANA_ABI_NAMESPACE
} // namespace sana
