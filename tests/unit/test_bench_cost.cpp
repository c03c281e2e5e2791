// The installed cost helpers agree with each other: a DiT block's multiply-adds from dit_forward_macs equal the
// sum of the per-op counts of the ops the block runs, and the Gemma-2 total is its layers plus the final norm.
#include <catch2/catch.hpp>

#include "sana/bench/cost.hpp"

using namespace sana;

TEST_CASE("bench cost: a DiT block is the sum of its ops", "[bench]") {
  for (const bool large : {false, true}) {
    const bench::DitOpShapes s = bench::dit_op_shapes(large, 1024, 1);
    dit::TransformerConfig one = bench::sana_config(large), none = one;
    one.num_layers = 1;
    none.num_layers = 0;
    const double n = double(s.tokens), l = double(s.text_tokens), C = double(s.channels);
    const double Ci = double(s.cross_heads) * s.cross_head_dim, F = double(s.ffn_hidden);
    bench::OpCost ops;
    for (int i = 0; i < 4; ++i) ops += bench::linear_cost(n, C, C, 2);  // q, k, v, out
    ops += bench::linear_attention_cost(s, 2);
    ops += bench::linear_cost(n, Ci, C, 2);                                    // cross q
    ops += bench::linear_cost(l, Ci, C, 2);                                    // text k
    ops += bench::linear_cost(l, Ci, C, 2);                                    // text v
    ops += bench::matmul_cost(double(s.cross_heads), n, l, double(s.cross_head_dim), 2);  // QK^T
    ops += bench::matmul_cost(double(s.cross_heads), n, double(s.cross_head_dim), l, 2);  // PV
    ops += bench::linear_cost(n, C, Ci, 2);                                               // cross out
    ops += bench::linear_cost(n, 2 * F, C, 2);                                            // inverted conv
    ops += bench::conv2d_cost({std::int64_t(2 * F), std::int64_t(2 * F), s.height, 3, std::int64_t(2 * F)}, 2);
    ops += bench::linear_cost(n, C, F, 2);  // point conv
    const double block = bench::dit_forward_macs(one, n, l) - bench::dit_forward_macs(none, n, l);
    CHECK(ops.flops / 2 == Approx(block).epsilon(1e-12));
  }
}

TEST_CASE("bench cost: Gemma-2 forward and per-op counts", "[bench]") {
  text::Gemma2Config c;
  c.num_hidden_layers = 3;
  const double t = 300;
  CHECK(bench::gemma2_forward_flops(c, t) ==
        Approx(3 * bench::gemma2_layer_flops(c, t) + 4 * t * c.hidden_size).epsilon(1e-12));
  // Minimum traffic: every input read once, every output written once.
  CHECK(bench::rms_norm_cost(10, 8, 2).bytes == 2 * (2 * 80 + 8));
  CHECK(bench::softmax_cost(4, 300, 1, 4).bytes == 4 * (2 * 1200 + 300));
  CHECK(bench::elementwise_cost(100, 5, 2, 2).bytes == 2 * 300);
  CHECK(bench::reshuffle_cost(64, 64, 4).flops == 0);
  const bench::DitOpShapes s = bench::dit_op_shapes(false, 512, 2);
  const bench::OpCost by_shape = bench::linear_attention_cost(s, 2);
  const bench::OpCost by_dims = bench::linear_attention_cost(2.0 * s.heads, 256, double(s.head_dim), 2);
  CHECK(by_shape.flops == by_dims.flops);
  CHECK(by_shape.bytes == by_dims.bytes);
}
