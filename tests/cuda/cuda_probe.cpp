// sana_cuda_probe: a one-shot check to run on a GPU machine (not a ctest). It prints
//   1. how far cuBLASLt's fused GELU epilogue is from the tanh formula and from erf-GELU
//      (the backend fuses it as GELUTanh; the first number must be ~1e-6, the second ~1e-3),
//   2. rough timings of the bf16 / f32 GEMM paths, the direct conv2d and the element-wise kernels.
// Timings are wall-clock over a few synchronized iterations: indicative only, not a benchmark.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "sana/backends/cuda/cuda.hpp"

namespace {
using namespace sana;
using Traits = backend_traits<cuda_backend>;
using K = kernels<cuda_backend>;

template <class T>
T* upload(cuda::Context& ctx, const std::vector<T>& h) {
  T* p = static_cast<T*>(Traits::allocate(h.size() * sizeof(T)));
  Traits::upload(ctx, p, h.data(), h.size() * sizeof(T));
  return p;
}
template <class T>
std::vector<T> download(cuda::Context& ctx, const T* p, std::size_t n) {
  std::vector<T> h(n);
  Traits::download(ctx, h.data(), p, n * sizeof(T));
  return h;
}
template <class F>
double seconds_per_call(cuda::Context& ctx, F&& f, int iters) {
  f();
  ctx.synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) f();
  ctx.synchronize();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
}
} // namespace

int main() {
  if (!cuda::device_available()) {
    std::printf("no CUDA device\n");
    return 0;
  }
  cuda::Context ctx;
  std::printf("device: %s\n", cuda::device_name().c_str());

  {  // 1. fused activation accuracy: C (m x n) = act(A (m x 1) * ones (1 x n))
    const int m = 4096, n = 8;
    std::vector<float> a(m), ones(n, 1.0f);
    for (int i = 0; i < m; ++i) a[i] = -6.0f + 12.0f * static_cast<float>(i) / m;
    float* da = upload(ctx, a);
    float* db = upload(ctx, ones);
    float* dc = upload(ctx, std::vector<float>(m * n));
    for (Activation act : {Activation::GELUTanh, Activation::ReLU}) {
      GemmDesc d;
      d.m = m;
      d.n = n;
      d.k = 1;
      d.a = da;
      d.lda = 1;
      d.b = db;
      d.ldb = n;
      d.c = dc;
      d.ldc = n;
      d.act = act;
      K::run(ctx, d);
      const auto c = download(ctx, dc, m * n);
      double err_formula = 0, err_erf = 0;
      for (int i = 0; i < m; ++i) {
        const double x = a[i];
        const double want = act == Activation::ReLU
                                ? (x > 0 ? x : 0)
                                : 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        const double erf_gelu = 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
        err_formula = std::fmax(err_formula, std::fabs(c[i * n] - want));
        err_erf = std::fmax(err_erf, std::fabs(c[i * n] - erf_gelu));
      }
      std::printf("fused %s: max |gemm - formula| = %.3g, max |gemm - erf-gelu| = %.3g\n",
                  act == Activation::ReLU ? "relu" : "gelu-tanh", err_formula, err_erf);
    }
    Traits::deallocate(da);
    Traits::deallocate(db);
    Traits::deallocate(dc);
  }

  {  // 2. bf16 Linear 4096 x 2240 -> 5600 with bias: plain, fused GELU, follow-up SiLU
    const long m = 4096, k = 2240, n = 5600;
    bf16* da = upload(ctx, std::vector<bf16>(m * k, bf16(0.01f)));
    bf16* dw = upload(ctx, std::vector<bf16>(n * k, bf16(0.02f)));
    bf16* dbias = upload(ctx, std::vector<bf16>(n, bf16(0.1f)));
    bf16* dc = static_cast<bf16*>(Traits::allocate(m * n * sizeof(bf16)));
    for (Activation act : {Activation::None, Activation::GELUTanh, Activation::SiLU}) {
      GemmDesc d;
      d.dtype = DType::BF16;
      d.m = m;
      d.n = n;
      d.k = k;
      d.a = da;
      d.lda = k;
      d.b = dw;
      d.ldb = k;
      d.trans_b = true;
      d.c = dc;
      d.ldc = n;
      d.bias = dbias;
      d.act = act;
      const double s = seconds_per_call(ctx, [&] { K::run(ctx, d); }, 20);
      const float c0 = static_cast<float>(download(ctx, dc, 1)[0]);
      std::printf("bf16 linear %ldx%ld->%ld act=%d: %.3f ms, %.0f TFLOP/s, c[0]=%g (pre-act %g)\n", m, k, n,
                  static_cast<int>(act), s * 1e3, 2.0 * m * n * k / s / 1e12, c0, 0.01 * 0.02 * k + 0.1);
    }
    Traits::deallocate(da);
    Traits::deallocate(dw);
    Traits::deallocate(dbias);
    Traits::deallocate(dc);
  }

  {  // 3. f32 GEMM 2048^3 (fp32 compute, no TF32)
    const long N = 2048;
    float* da = upload(ctx, std::vector<float>(N * N, 0.01f));
    float* dc = static_cast<float*>(Traits::allocate(N * N * sizeof(float)));
    GemmDesc d;
    d.m = d.n = d.k = N;
    d.a = d.b = da;
    d.c = dc;
    d.lda = d.ldb = d.ldc = N;
    const double s = seconds_per_call(ctx, [&] { K::run(ctx, d); }, 10);
    std::printf("f32 gemm 2048^3: %.3f ms, %.1f TFLOP/s\n", s * 1e3, 2.0 * N * N * N / s / 1e12);
    Traits::deallocate(da);
    Traits::deallocate(dc);
  }

  {  // 4. direct conv2d: dense 3x3 256->256 at 128x128, depthwise 3x3 on 4480 channels at 32x32
    Conv2dDesc d;
    d.dtype = DType::BF16;
    d.n = 1;
    d.c_in = d.c_out = 256;
    d.h = d.w = d.h_out = d.w_out = 128;
    d.kh = d.kw = 3;
    d.pad_h = d.pad_w = 1;
    auto* x = upload(ctx, std::vector<bf16>(256 * 128 * 128, bf16(0.5f)));
    auto* w = upload(ctx, std::vector<bf16>(256 * 256 * 9, bf16(0.01f)));
    auto* y = static_cast<bf16*>(Traits::allocate(256 * 128 * 128 * sizeof(bf16)));
    d.x = x;
    d.weight = w;
    d.y = y;
    double s = seconds_per_call(ctx, [&] { K::run(ctx, d); }, 5);
    std::printf("conv2d 3x3 256->256 @128^2 bf16: %.3f ms (%.2f TFLOP/s); y[0]=%g (expect %g)\n", s * 1e3,
                2.0 * 256 * 256 * 9 * 128 * 128 / s / 1e12, static_cast<float>(download(ctx, y, 1)[0]),
                0.5 * 0.01 * 256 * 4);

    Conv2dDesc e;
    e.dtype = DType::BF16;
    e.n = 2;
    e.c_in = e.c_out = e.groups = 4480;
    e.h = e.w = e.h_out = e.w_out = 32;
    e.kh = e.kw = 3;
    e.pad_h = e.pad_w = 1;
    e.act = Activation::SiLU;
    auto* x2 = upload(ctx, std::vector<bf16>(2 * 4480 * 1024, bf16(1.0f)));
    auto* w2 = upload(ctx, std::vector<bf16>(4480 * 9, bf16(1.0f)));
    auto* y2 = static_cast<bf16*>(Traits::allocate(2 * 4480 * 1024 * sizeof(bf16)));
    e.x = x2;
    e.weight = w2;
    e.y = y2;
    s = seconds_per_call(ctx, [&] { K::run(ctx, e); }, 10);
    std::printf("depthwise 3x3 4480ch @32^2 x2 bf16: %.3f ms (%.0f GB/s)\n", s * 1e3, 2.0 * 2 * 4480 * 1024 * 2 / s / 1e9);
    for (void* p : {static_cast<void*>(x), static_cast<void*>(w), static_cast<void*>(y), static_cast<void*>(x2),
                    static_cast<void*>(w2), static_cast<void*>(y2)})
      Traits::deallocate(p);
  }

  {  // 5. element-wise bandwidth on 4096 x 4096 bf16
    const long R = 4096, C = 4096;
    bf16* da = upload(ctx, std::vector<bf16>(R * C, bf16(1.0f)));
    bf16* drow = upload(ctx, std::vector<bf16>(C, bf16(2.0f)));
    bf16* dout = static_cast<bf16*>(Traits::allocate(R * C * sizeof(bf16)));
    BinaryDesc b;
    b.op = BinaryOp::Add;
    b.a = {da, DType::BF16, 2, {R, C}, {C, 1}};
    b.b = {drow, DType::BF16, 2, {1, C}, {C, 1}};
    b.out = {dout, DType::BF16, 2, {R, C}, {C, 1}};
    double s = seconds_per_call(ctx, [&] { K::run(ctx, b); }, 20);
    std::printf("binary add, row broadcast: %.3f ms (%.0f GB/s)\n", s * 1e3, 2.0 * R * C * 2 / s / 1e9);
    CopyDesc cp;
    cp.src = {da, DType::BF16, 2, {C, R}, {1, C}};
    cp.dst = {dout, DType::BF16, 2, {C, R}, {R, 1}};
    s = seconds_per_call(ctx, [&] { K::run(ctx, cp); }, 20);
    std::printf("copy, transpose: %.3f ms (%.0f GB/s)\n", s * 1e3, 2.0 * R * C * 2 / s / 1e9);
    LincombDesc l;
    l.dtype = DType::BF16;
    l.n = R * C;
    l.terms = 3;
    l.x = {da, dout, da};
    l.coef = {1.0f, 2.0f, 3.0f};
    l.y = dout;
    s = seconds_per_call(ctx, [&] { K::run(ctx, l); }, 20);
    std::printf("lincomb, 3 terms: %.3f ms (%.0f GB/s)\n", s * 1e3, 4.0 * R * C * 2 / s / 1e9);
    Traits::deallocate(da);
    Traits::deallocate(drow);
    Traits::deallocate(dout);
  }
  std::printf("probe done\n");
  return 0;
}
