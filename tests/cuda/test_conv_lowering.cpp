// The CUDA backend's convolution lowering (backends/cuda/src/conv_lowering.hpp) executed on the CPU:
// the very descriptors the CUDA backend hands to cuBLASLt and its kernels — bias fill, pointwise GEMM,
// im2col columns from `im2col_source`, chunk GEMMs, activation — run here through the reference kernels
// and must equal the reference convolution. Needs no GPU: it checks the lowering's index and stride
// arithmetic everywhere, so on a GPU only the (trivial) im2col kernel and cuBLASLt remain.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "conv_lowering.hpp"
#include "sana/backend/reference/kernels.hpp"

using namespace sana;
namespace cd = sana::cuda::detail;

namespace {

struct Case {
  std::int64_t n, c_in, h, w, c_out, kh, kw, stride, pad, dil;
  bool bias;
  Activation act;
};

/// y from the lowering, run with reference kernels; `max_column_bytes` small forces many chunks.
void run_lowered(const Conv2dDesc& d, std::size_t max_column_bytes) {
  const cd::ConvLowering l = cd::plan_conv(d, max_column_bytes);
  REQUIRE(l.path != cd::ConvPath::Direct);
  if (d.bias) reference::run(cd::bias_fill(d));
  if (l.path == cd::ConvPath::Pointwise) {
    reference::run(cd::pointwise_gemm(d));
  } else {
    std::vector<float> cols(static_cast<std::size_t>(l.chunk * l.k));
    const float* x = static_cast<const float*>(d.x);
    for (std::int64_t img = 0; img < d.n; ++img)
      for (std::int64_t p0 = 0; p0 < l.pixels; p0 += l.chunk) {
        const std::int64_t np = std::min(l.chunk, l.pixels - p0);
        for (std::int64_t p = 0; p < np; ++p)
          for (std::int64_t k = 0; k < l.k; ++k) {
            const std::int64_t src = cd::im2col_source(d, p0 + p, k);
            cols[static_cast<std::size_t>(p * l.k + k)] = src < 0 ? 0.0f : x[img * d.c_in * d.h * d.w + src];
          }
        reference::run(cd::chunk_gemm(d, l, img, p0, np, cols.data()));
      }
  }
  if (d.act != Activation::None) reference::run(cd::conv_activation(d));
}

} // namespace

TEST_CASE("CUDA conv lowering (pointwise GEMM, im2col + GEMM) equals the reference convolution", "[unit][cuda][conv]") {
  const std::vector<Case> cases = {
      {2, 8, 6, 5, 4, 1, 1, 1, 0, 1, true, Activation::None},    // pointwise, batched over images
      {1, 8, 6, 5, 4, 1, 1, 1, 0, 1, false, Activation::SiLU},   // pointwise, no bias, activation after
      {2, 3, 7, 9, 5, 3, 3, 1, 1, 1, true, Activation::SiLU},    // DC-AE ResBlock conv
      {1, 4, 8, 8, 6, 3, 3, 2, 1, 1, true, Activation::None},    // stride-2 downsample
      {2, 5, 9, 7, 3, 5, 5, 1, 2, 1, true, Activation::ReLU},    // 5x5
      {1, 3, 10, 11, 2, 3, 3, 1, 2, 2, false, Activation::None}, // dilation 2
      {1, 6, 6, 6, 4, 1, 1, 2, 0, 1, true, Activation::None},    // 1x1 stride 2: not pointwise
      {1, 2, 4, 4, 3, 3, 3, 1, 0, 1, true, Activation::None},    // no padding: 2x2 output
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  for (const Case& c : cases)
    for (std::size_t max_bytes : {std::size_t{1} << 30, std::size_t{100}, std::size_t{1}}) {
      Conv2dDesc d;
      d.n = c.n;
      d.c_in = c.c_in;
      d.h = c.h;
      d.w = c.w;
      d.c_out = c.c_out;
      d.kh = c.kh;
      d.kw = c.kw;
      d.stride_h = d.stride_w = c.stride;
      d.pad_h = d.pad_w = c.pad;
      d.dil_h = d.dil_w = c.dil;
      d.h_out = (c.h + 2 * c.pad - c.dil * (c.kh - 1) - 1) / c.stride + 1;
      d.w_out = (c.w + 2 * c.pad - c.dil * (c.kw - 1) - 1) / c.stride + 1;
      d.act = c.act;
      std::vector<float> x(static_cast<std::size_t>(c.n * c.c_in * c.h * c.w)), wt(static_cast<std::size_t>(c.c_out * c.c_in * c.kh * c.kw)),
          b(static_cast<std::size_t>(c.c_out)), want(static_cast<std::size_t>(c.n * c.c_out * d.h_out * d.w_out)),
          got(want.size(), 123.0f);  // garbage: the lowering must overwrite every element
      for (auto* v : {&x, &wt, &b})
        for (float& e : *v) e = nd(rng);
      d.x = x.data();
      d.weight = wt.data();
      d.bias = c.bias ? b.data() : nullptr;
      d.y = want.data();
      reference::run(d);
      d.y = got.data();
      if (!c.bias) std::fill(got.begin(), got.end(), 0.0f);  // beta = 0 never reads y, but keep it defined
      run_lowered(d, max_bytes);
      double worst = 0;
      for (std::size_t i = 0; i < want.size(); ++i) worst = std::max(worst, double(std::abs(want[i] - got[i])));
      INFO("case k" << c.kh << " s" << c.stride << " p" << c.pad << " d" << c.dil << ", column budget " << max_bytes);
      CHECK(worst < 1e-4);
    }
}

TEST_CASE("CUDA conv lowering: grouped convolutions stay on the direct kernel, chunks are bounded", "[unit][cuda][conv]") {
  Conv2dDesc d;
  d.n = 1;
  d.c_in = d.c_out = 8;
  d.h = d.w = d.h_out = d.w_out = 16;
  d.kh = d.kw = 3;
  d.pad_h = d.pad_w = 1;
  d.groups = 8;
  CHECK(cd::plan_conv(d, 1 << 20).path == cd::ConvPath::Direct);
  d.groups = 1;
  const auto l = cd::plan_conv(d, 72 * 4 * 10);  // room for 10 pixels of 72 fp32 taps
  CHECK(l.path == cd::ConvPath::Im2col);
  CHECK(l.k == 72);
  CHECK(l.chunk == 10);
  CHECK(cd::plan_conv(d, std::size_t{1} << 40).chunk == 256);  // never more than the image
}
