// Smoke tests of the CUDA backend: every op once, on tiny inputs, against answers computed here in
// double precision. Without a CUDA device they only check that the backend says so.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sana/backends/cuda/cuda.hpp"
#include "sana/backends/cuda/graph.hpp"

namespace {

using sana::Activation;
using sana::DType;
using Traits = sana::backend_traits<sana::cuda_backend>;
static_assert(sana::Backend<sana::cuda_backend>);

/// A device copy of a host vector, freed on scope exit.
template <class T>
struct DeviceBuffer {
  sana::cuda::Context& ctx;
  std::size_t n;
  T* ptr;
  DeviceBuffer(sana::cuda::Context& c, const std::vector<T>& host)
      : ctx(c), n(host.size()), ptr(static_cast<T*>(Traits::allocate(host.size() * sizeof(T)))) {
    Traits::upload(ctx, ptr, host.data(), n * sizeof(T));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { Traits::deallocate(ptr); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    Traits::download(ctx, h.data(), ptr, n * sizeof(T));
    return h;
  }
};

double act_ref(Activation a, double x) {
  switch (a) {
    case Activation::None: return x;
    case Activation::ReLU: return x > 0 ? x : 0;
    case Activation::SiLU: return x / (1 + std::exp(-x));
    case Activation::GELUTanh: return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
  }
  return x;
}

std::vector<float> ramp(std::size_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = offset + scale * static_cast<float>((i * 7) % 13) / 13.0f;
  return v;
}

template <class To>
std::vector<To> cast_vec(const std::vector<float>& v) {
  std::vector<To> r;
  for (float x : v) r.push_back(To(x));
  return r;
}

void check_close(const std::vector<double>& expect, const std::vector<float>& got, double tol) {
  REQUIRE(expect.size() == got.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(std::fabs(expect[i] - got[i]) <= tol * (1 + std::fabs(expect[i])));
  }
}

/// Row-major C = act(alpha op(A) op(B) + bias) + beta C in double.
/// Every matrix starts `off` elements into its vector (the bias too).
std::vector<double> gemm_ref(const sana::GemmDesc& d, const std::vector<float>& a, const std::vector<float>& b,
                             const std::vector<float>& bias, const std::vector<float>& c0, std::int64_t off) {
  std::vector<double> c(c0.begin(), c0.end());
  for (std::int64_t bt = 0; bt < d.batch; ++bt)
    for (std::int64_t i = 0; i < d.m; ++i)
      for (std::int64_t j = 0; j < d.n; ++j) {
        double acc = 0;
        for (std::int64_t p = 0; p < d.k; ++p) {
          const double av = d.trans_a ? a[off + bt * d.stride_a + p * d.lda + i] : a[off + bt * d.stride_a + i * d.lda + p];
          const double bv = d.trans_b ? b[off + bt * d.stride_b + j * d.ldb + p] : b[off + bt * d.stride_b + p * d.ldb + j];
          acc += av * bv;
        }
        double v = d.alpha * acc + (bias.empty() ? 0.0 : bias[off + j]);
        v = act_ref(d.act, v);
        double& out = c[off + bt * d.stride_c + i * d.ldc + j];
        out = v + (d.beta != 0 ? d.beta * out : 0.0);
      }
  return c;
}

} // namespace

TEST_CASE("cuda: device query and context", "[cuda]") {
  if (!sana::cuda::device_available()) {
    WARN("no CUDA device: skipping");
    try {
      sana::cuda::Context ctx;
      FAIL("Context() succeeded without a device");
    } catch (const sana::error& e) {
      CHECK(std::string(e.what()).rfind("[cuda] no CUDA device", 0) == 0);
    }
    return;
  }
  sana::cuda::Context ctx;
  CHECK(!sana::cuda::device_name().empty());
  CHECK(ctx.stream() != nullptr);
  sana::cuda::Context moved = std::move(ctx);
  moved.synchronize();

  DeviceBuffer<float> buf(moved, {1.0f, 2.0f, 3.0f});
  CHECK(buf.get() == std::vector<float>{1.0f, 2.0f, 3.0f});
}

TEST_CASE("cuda: gemm", "[cuda]") {
  if (!sana::cuda::device_available()) {
    WARN("no CUDA device: skipping");
    return;
  }
  sana::cuda::Context ctx;

  struct Case {
    const char* name;
    bool trans_a, trans_b, bias;
    Activation act;
    float alpha, beta;
    std::int64_t batch;
    std::int64_t m = 5, n = 6, k = 7;
    std::int64_t off = 0;  // elements every pointer is shifted by (breaks 16-byte alignment)
  };
  const Case cases[] = {
      {"plain", false, false, false, Activation::None, 1.0f, 0.0f, 1},
      {"linear: B^T + bias", false, true, true, Activation::None, 1.0f, 0.0f, 1},
      {"A^T, alpha, beta", true, false, true, Activation::None, 0.5f, 2.0f, 1},
      {"bias + relu (fused)", false, true, true, Activation::ReLU, 1.0f, 0.0f, 1},
      {"bias + gelu-tanh (fused)", false, true, true, Activation::GELUTanh, 1.0f, 0.0f, 1},
      {"bias + silu (follow-up)", false, true, true, Activation::SiLU, 1.0f, 0.0f, 1},
      {"gelu then + beta C (follow-up)", false, true, true, Activation::GELUTanh, 1.0f, 0.5f, 1},
      {"batched", false, false, true, Activation::ReLU, 1.0f, 0.0f, 3},
      {"odd sizes, unaligned, gelu", false, true, true, Activation::GELUTanh, 1.0f, 0.0f, 2, 33, 75, 41, 1},
      {"odd sizes, unaligned, silu + beta", true, false, true, Activation::SiLU, 0.75f, -1.0f, 1, 70, 19, 129, 3},
  };
  for (const Case& cs : cases) {
    SECTION(cs.name) {
      const std::int64_t m = cs.m, n = cs.n, k = cs.k, off = cs.off;
      sana::GemmDesc d;
      d.dtype = DType::F32;
      d.batch = cs.batch;
      d.m = m;
      d.n = n;
      d.k = k;
      d.trans_a = cs.trans_a;
      d.trans_b = cs.trans_b;
      d.lda = cs.trans_a ? m : k;
      d.ldb = cs.trans_b ? k : n;
      d.ldc = n + 2;  // padded rows
      d.stride_a = m * k;
      d.stride_b = k * n;
      d.stride_c = m * d.ldc;
      d.alpha = cs.alpha;
      d.beta = cs.beta;
      d.act = cs.act;
      const auto a = ramp(static_cast<std::size_t>(off + cs.batch * m * k), 2.0f, -1.0f);
      const auto b = ramp(static_cast<std::size_t>(off + cs.batch * k * n), 1.5f, -0.7f);
      const auto bias = cs.bias ? ramp(static_cast<std::size_t>(off + n), 1.0f, -0.5f) : std::vector<float>{};
      const auto c0 = ramp(static_cast<std::size_t>(off + cs.batch * d.stride_c), 1.0f, 0.25f);
      const auto expect = gemm_ref(d, a, b, bias, c0, off);

      SECTION("f32") {
        DeviceBuffer<float> da(ctx, a), db(ctx, b), dc(ctx, c0), dbias(ctx, bias.empty() ? std::vector<float>{0} : bias);
        d.a = da.ptr + off;
        d.b = db.ptr + off;
        d.c = dc.ptr + off;
        d.bias = cs.bias ? dbias.ptr + off : nullptr;
        sana::kernels<sana::cuda_backend>::run(ctx, d);
        check_close(expect, dc.get(), 2e-6 * static_cast<double>(k));
        sana::kernels<sana::cuda_backend>::run(ctx, d);  // second call: cached plan
        CHECK(ctx.plan_count() >= 1);
      }
      SECTION("bf16") {
        // Inputs rounded to bf16 first, so only the output rounding (and summation order) differs.
        auto round_bf16 = [](std::vector<float> v) {
          for (float& x : v) x = static_cast<float>(sana::bf16(x));
          return v;
        };
        const auto ab = round_bf16(a), bb = round_bf16(b), biasb = round_bf16(bias), cb = round_bf16(c0);
        const auto expect_b = gemm_ref(d, ab, bb, biasb, cb, off);
        DeviceBuffer<sana::bf16> da(ctx, cast_vec<sana::bf16>(ab)), db(ctx, cast_vec<sana::bf16>(bb)),
            dc(ctx, cast_vec<sana::bf16>(cb)), dbias(ctx, cast_vec<sana::bf16>(biasb.empty() ? std::vector<float>{0} : biasb));
        d.dtype = DType::BF16;
        d.a = da.ptr + off;
        d.b = db.ptr + off;
        d.c = dc.ptr + off;
        d.bias = cs.bias ? dbias.ptr + off : nullptr;
        sana::kernels<sana::cuda_backend>::run(ctx, d);
        std::vector<float> got;
        for (auto v : dc.get()) got.push_back(static_cast<float>(v));
        check_close(expect_b, got, 8e-3);
      }
    }
  }
}

TEST_CASE("cuda: conv2d", "[cuda]") {
  if (!sana::cuda::device_available()) {
    WARN("no CUDA device: skipping");
    return;
  }
  sana::cuda::Context ctx;
  // x: 1 image, 2 channels of 3x3; weights: 2 output channels, groups = 2 (depthwise), 2x2 taps;
  // padding 1, stride 2 -> 2x2 outputs.
  sana::Conv2dDesc d;
  d.n = 1;
  d.c_in = 2;
  d.h = 3;
  d.w = 3;
  d.c_out = 2;
  d.kh = 2;
  d.kw = 2;
  d.stride_h = d.stride_w = 2;
  d.pad_h = d.pad_w = 1;
  d.groups = 2;
  d.h_out = 2;
  d.w_out = 2;
  d.act = Activation::ReLU;
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9,            // channel 0
                                -1, -2, -3, -4, -5, -6, -7, -8, -9};  // channel 1
  const std::vector<float> w = {1, 0, 0, 1,     // out 0: picks x[iy][ix] + x[iy+1][ix+1]
                                0, -1, 0, 0};   // out 1: -x[iy][ix+1]
  const std::vector<float> bias = {0.5f, 1.0f};
  // Output (oy, ox) reads rows {2oy-1, 2oy}, cols {2ox-1, 2ox}; out of range reads 0.
  // ch0: (0,0): 0 + x00=1 -> 1.5; (0,1): 0 + x02=3 -> 3.5; (1,0): 0 + x20=7 -> 7.5; (1,1): x11 + x22 = 5+9 -> 14.5
  // ch1: (0,0): -x[-1][0] = 0 -> 1; (0,1): 0 -> 1; (1,0): -x[1][0] = 4 -> 5; (1,1): -x[1][2] = 6 -> 7
  const std::vector<double> expect = {1.5, 3.5, 7.5, 14.5, 1, 1, 5, 7};
  DeviceBuffer<float> dx(ctx, x), dw(ctx, w), db(ctx, bias), dy(ctx, std::vector<float>(8, -100.0f));
  d.x = dx.ptr;
  d.weight = dw.ptr;
  d.bias = db.ptr;
  d.y = dy.ptr;
  sana::kernels<sana::cuda_backend>::run(ctx, d);
  check_close(expect, dy.get(), 1e-6);

  SECTION("dense 3x3, padding 1, dilation 1, SiLU") {
    sana::Conv2dDesc e = d;
    e.groups = 1;
    e.c_out = 1;
    e.kh = e.kw = 3;
    e.stride_h = e.stride_w = 1;
    e.h_out = e.w_out = 3;
    e.act = Activation::SiLU;
    std::vector<float> w3(18, 0.0f);
    w3[4] = 1.0f;       // centre tap of channel 0
    w3[9 + 4] = 0.5f;   // centre tap of channel 1
    w3[9 + 0] = 0.25f;  // top-left tap of channel 1
    DeviceBuffer<float> dw3(ctx, w3), dy3(ctx, std::vector<float>(9, 0.0f));
    e.weight = dw3.ptr;
    e.bias = nullptr;
    e.y = dy3.ptr;
    sana::kernels<sana::cuda_backend>::run(ctx, e);
    std::vector<double> ex(9);
    for (int oy = 0; oy < 3; ++oy)
      for (int ox = 0; ox < 3; ++ox) {
        double v = x[oy * 3 + ox] + 0.5 * x[9 + oy * 3 + ox];
        if (oy > 0 && ox > 0) v += 0.25 * x[9 + (oy - 1) * 3 + (ox - 1)];
        ex[oy * 3 + ox] = act_ref(Activation::SiLU, v);
      }
    check_close(ex, dy3.get(), 1e-5);
  }
}

TEST_CASE("cuda: binary, activation, lincomb, copy", "[cuda]") {
  if (!sana::cuda::device_available()) {
    WARN("no CUDA device: skipping");
    return;
  }
  sana::cuda::Context ctx;
  using K = sana::kernels<sana::cuda_backend>;

  SECTION("binary broadcast (2,3) - (1,3) and (2,1)") {
    DeviceBuffer<float> a(ctx, {1, 2, 3, 4, 5, 6}), row(ctx, {10, 20, 30}), col(ctx, {2, 4}), out(ctx, std::vector<float>(6));
    sana::BinaryDesc d;
    d.op = sana::BinaryOp::Sub;
    d.a = {a.ptr, DType::F32, 2, {2, 3}, {3, 1}};
    d.b = {row.ptr, DType::F32, 2, {1, 3}, {3, 1}};
    d.out = {out.ptr, DType::F32, 2, {2, 3}, {3, 1}};
    K::run(ctx, d);
    CHECK(out.get() == std::vector<float>{-9, -18, -27, -6, -15, -24});
    d.op = sana::BinaryOp::Div;
    d.b = {col.ptr, DType::F32, 2, {2, 1}, {1, 1}};
    K::run(ctx, d);
    CHECK(out.get() == std::vector<float>{0.5f, 1.0f, 1.5f, 1.0f, 1.25f, 1.5f});
    // a read transposed (strides {1, 2} of a 3x2 buffer), times a stride-0 scalar.
    DeviceBuffer<float> two(ctx, {2});
    d.op = sana::BinaryOp::Mul;
    d.a = {a.ptr, DType::F32, 2, {2, 3}, {1, 2}};
    d.b = {two.ptr, DType::F32, 2, {2, 3}, {0, 0}};
    K::run(ctx, d);
    CHECK(out.get() == std::vector<float>{2, 6, 10, 4, 8, 12});
  }

  SECTION("activation in place") {
    const std::vector<float> xs = {-3.0f, -1.5f, -0.5f, 0.0f, 0.7f, 1.5f, 2.0f, 3.0f};
    for (Activation act : {Activation::ReLU, Activation::SiLU, Activation::GELUTanh}) {
      DeviceBuffer<float> x(ctx, xs);
      K::run(ctx, {act, DType::F32, static_cast<std::int64_t>(xs.size()), x.ptr, x.ptr});
      std::vector<double> ex;
      for (float v : xs) ex.push_back(act_ref(act, v));
      check_close(ex, x.get(), 2e-6);
    }
  }

  SECTION("lincomb with y aliasing x[0], bf16") {
    DeviceBuffer<sana::bf16> x0(ctx, cast_vec<sana::bf16>({1, 2, 3})), x1(ctx, cast_vec<sana::bf16>({0.5f, 0.25f, -1}));
    sana::LincombDesc d;
    d.dtype = DType::BF16;
    d.n = 3;
    d.terms = 2;
    d.x = {x0.ptr, x1.ptr};
    d.coef = {2.0f, -4.0f};
    d.y = x0.ptr;
    K::run(ctx, d);
    std::vector<float> got;
    for (auto v : x0.get()) got.push_back(static_cast<float>(v));
    CHECK(got == std::vector<float>{0.0f, 3.0f, 10.0f});
  }

  SECTION("copy: transpose f32 -> bf16, then f16 -> f32 contiguous") {
    DeviceBuffer<float> src(ctx, {1, 2, 3, 4, 5, 6.00390625f});  // (2,3); last value rounds to even in bf16
    DeviceBuffer<sana::bf16> dst(ctx, std::vector<sana::bf16>(6));
    sana::CopyDesc d;
    d.src = {src.ptr, DType::F32, 2, {3, 2}, {1, 3}};  // src^T viewed as (3,2)
    d.dst = {dst.ptr, DType::BF16, 2, {3, 2}, {2, 1}};
    K::run(ctx, d);
    std::vector<float> got;
    for (auto v : dst.get()) got.push_back(static_cast<float>(v));
    CHECK(got == std::vector<float>{1, 4, 2, 5, 3, 6});

    DeviceBuffer<sana::f16> h(ctx, cast_vec<sana::f16>({0.5f, -2.0f, 65504.0f}));
    DeviceBuffer<float> f(ctx, std::vector<float>(3));
    d.src = {h.ptr, DType::F16, 1, {3}, {1}};
    d.dst = {f.ptr, DType::F32, 1, {3}, {1}};
    K::run(ctx, d);
    CHECK(f.get() == std::vector<float>{0.5f, -2.0f, 65504.0f});
  }
  ctx.synchronize();
}

TEST_CASE("cuda: StepGraph runs eagerly once, then records and replays", "[cuda]") {
  if (!sana::cuda::device_available()) {
    WARN("no CUDA device: skipping");
    return;
  }
  sana::cuda::Context ctx;
  using K = sana::kernels<sana::cuda_backend>;
  // The work: x <- 2·x (one lincomb on fixed memory). Four runs double x four times whether a run is
  // eager (1), recorded-and-launched (2) or replayed (3, 4).
  DeviceBuffer<float> x(ctx, {1, 2, 3});
  sana::StepGraph<sana::cuda_backend> graph;
  int host_calls = 0;
  auto work = [&] {
    ++host_calls;
    sana::LincombDesc d;
    d.n = 3;
    d.terms = 1;
    d.x[0] = x.ptr;
    d.coef[0] = 2.0f;
    d.y = x.ptr;
    K::run(ctx, d);
  };
  for (int i = 0; i < 4; ++i) graph.run(ctx, work);
  INFO(graph.note());
  CHECK(graph.replaying());
  CHECK(host_calls == 2);  // run 1 eager, run 2 captured; runs 3-4 only launch the recording
  CHECK(x.get() == std::vector<float>{16, 32, 48});
}
