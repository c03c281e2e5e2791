#include <catch2/catch.hpp>

#include "sana/core/tensor.hpp"

using namespace sana;

TEST_CASE("tensor views: contiguity, reshape, slice, transpose", "[unit][tensor]") {
  Tensor<float, 3, reference_backend> t({2, 3, 4});                      // (B, N, C)
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
  auto v = t.view();
  REQUIRE(v.is_contiguous());
  REQUIRE(v.strides() == Shape<3>{12, 4, 1});
  REQUIRE(v(1, 2, 3) == 23.0f);
  auto img = v.as_image(1, 3);                                           // (B, 1, 3, C)
  REQUIRE(img(1, 0, 2, 3) == 23.0f);
  auto flat = v.reshape(Shape<2>{6, 4});                                 // (B*N, C)
  REQUIRE(flat(5, 3) == 23.0f);
  auto s = v.slice(2, 1, 2);                                             // (B, N, 2)
  REQUIRE_FALSE(s.is_contiguous());
  REQUIRE(s(1, 2, 1) == 22.0f);
  auto tr = v.transpose(1, 2);                                           // (B, C, N)
  REQUIRE(tr(1, 3, 2) == 23.0f);
  REQUIRE_THROWS_WITH(s.reshape(Shape<1>{12}), Catch::Contains("[reshape]") && Catch::Contains("not contiguous"));
  REQUIRE_THROWS_WITH(v.reshape(Shape<1>{5}), Catch::Contains("cannot reshape (2, 3, 4) to (5,)"));
  REQUIRE_THROWS_WITH(v.slice(1, 2, 2), Catch::Contains("[slice]"));
  TensorView<const float, 3> cv = v;  // mutable -> const view
  REQUIRE(cv.data() == v.data());
}

TEST_CASE("shape products reject overflow and negative extents", "[unit][tensor]") {
  REQUIRE_THROWS_WITH(checked_numel(Shape<3>{1ll << 40, 1ll << 30, 1}), Catch::Contains("overflows"));
  REQUIRE_THROWS_WITH(checked_numel(Shape<2>{-1, 3}), Catch::Contains("negative extent"));
  REQUIRE(checked_numel(Shape<2>{0, 1ll << 62}) == 0);
}

TEST_CASE("host tensors move between host backends by copy", "[unit][tensor]") {
  Tensor<bf16, 1, reference_backend> a({5});
  for (int i = 0; i < 5; ++i) a.data()[i] = bf16(static_cast<float>(i));
  reference::Context ctx;
  auto b = to_backend<reference_backend>(ctx, a.view());
  auto c = to_host<reference_backend>(ctx, b.view());
  REQUIRE(c.data() != a.data());
  for (int i = 0; i < 5; ++i) REQUIRE(static_cast<float>(c.data()[i]) == static_cast<float>(i));
}
