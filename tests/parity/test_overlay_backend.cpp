// The out-of-tree overlay backend of docs/adding_a_backend.md: a new tag whose context derives from oneDNN's and
// whose kernel table overrides one op; every other op (and the models) run on oneDNN unchanged.
#include <catch2/catch.hpp>

#ifdef SANA_WITH_ONEDNN
#include <string_view>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/ops.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"

namespace overlay {
struct my_backend {};
struct MyContext : sana::onednn::Context {
  using backend_type = my_backend;
  int linear_attention_calls = 0;
};
} // namespace overlay

template <>
struct sana::backend_traits<overlay::my_backend> : sana::backend_traits<sana::onednn_backend> {
  using context_type = overlay::MyContext;
  static constexpr std::string_view name = "my-onednn";
};
template <>
struct sana::kernels<overlay::my_backend> : sana::kernels<sana::onednn_backend> {
  using sana::kernels<sana::onednn_backend>::run;
  static void run(overlay::MyContext& ctx, const sana::LinearAttentionDesc& d) {
    ++ctx.linear_attention_calls;  // the override: count, then the base kernel
    sana::kernels<sana::onednn_backend>::run(ctx, d);
  }
};

TEST_CASE("an overlay backend overrides one kernel and inherits the rest", "[parity][backend]") {
  using namespace sana;
  static_assert(Backend<overlay::my_backend>);
  overlay::MyContext ctx;
  onednn::Context base;
  auto x = test::random_tensor<float, 3>({2, 16, 3 * 32}, 1);
  Tensor<float, 3, overlay::my_backend> got({2, 16, 32});
  Tensor<float, 3, onednn_backend> want({2, 16, 32});
  auto run = [](auto& c, auto in, auto out) {
    ops::linear_attention(c, in.slice(2, 0, 32), in.slice(2, 32, 32), in.slice(2, 64, 32), out, 2);
  };
  run(ctx, TensorView<const float, 3>(x.view()), got.view());
  run(base, TensorView<const float, 3>(x.view()), want.view());
  CHECK(ctx.linear_attention_calls == 1);
  CHECK(std::equal(got.data(), got.data() + got.numel(), want.data()));
  ops::activation(ctx, TensorView<const float, 3>(got.view()), got.view(), Activation::SiLU);  // inherited: oneDNN's
  CHECK(ctx.linear_attention_calls == 1);
}
#endif
