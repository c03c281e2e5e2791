#include <cstdio>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/sana.hpp"

int main() {
  sana::onednn::Context ctx;
  sana::Tensor<float, 2, sana::onednn_backend> x({2, 3}), w({4, 3}), y({2, 4});
  for (int i = 0; i < 6; ++i) x.data()[i] = 1.0f;
  for (int i = 0; i < 12; ++i) w.data()[i] = 0.5f;
  sana::ops::linear(ctx, sana::TensorView<const float, 2>(x.view()), sana::TensorView<const float, 2>(w.view()), y.view());
  std::printf("%g\n", y.data()[0]);
  return y.data()[7] == 1.5f ? 0 : 1;
}
