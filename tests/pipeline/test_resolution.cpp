#include <catch2/catch.hpp>

#include <vector>

#include "sana/pipeline/image.hpp"
#include "sana/pipeline/resolution.hpp"

using namespace sana;
using namespace sana::pipeline;

TEST_CASE("aspect-ratio tables have diffusers' sizes and keys", "[unit][resolution]") {
  REQUIRE(std::size(kAspectBins512) == 33);
  REQUIRE(std::size(kAspectBins1024) == 33);
  REQUIRE(std::size(kAspectBins2048) == 40);
  REQUIRE(std::size(kAspectBins4096) == 40);
  for (std::size_t i = 0; i < std::size(kAspectBins512); ++i) {
    REQUIRE(kAspectBins1024[i].height == 2 * kAspectBins512[i].height);
    REQUIRE(kAspectBins1024[i].width == 2 * kAspectBins512[i].width);
  }
  for (const auto& b : kAspectBins4096) REQUIRE((b.height % 32 == 0 && b.width % 32 == 0));
  REQUIRE(aspect_bins_for(640).empty());
  // diffusers picks the table from the transformer's sample_size, not from the pixel size.
  REQUIRE(aspect_bins_for_sample_size(16).data() == aspect_bins_for(512).data());
  REQUIRE(aspect_bins_for_sample_size(32).data() == aspect_bins_for(1024).data());
  REQUIRE(aspect_bins_for_sample_size(128).data() == aspect_bins_for(4096).data());
  REQUIRE(aspect_bins_for_sample_size(8).empty());
}

TEST_CASE("binning picks the closest ratio, first on ties", "[unit][resolution]") {
  auto bins = aspect_bins_for(1024);
  auto b = closest_bin(bins, 1024, 1024);
  REQUIRE((b.height == 1024 && b.width == 1024));
  b = closest_bin(bins, 32, 32);  // diffusers' fast-test quirk: tiny requests bin to 1024²
  REQUIRE((b.height == 1024 && b.width == 1024));
  b = closest_bin(bins, 768, 1280);  // ratio 0.6
  REQUIRE((b.height == 768 && b.width == 1280));
  b = closest_bin(bins, 1000, 3000);  // 0.333 -> key 0.33
  REQUIRE((b.height == 576 && b.width == 1728));
  b = closest_bin(aspect_bins_for(2048), 4096, 1024);  // ratio 4
  REQUIRE((b.height == 4096 && b.width == 1024));
  REQUIRE_THROWS_WITH(closest_bin(bins, 0, 5), Catch::Contains("[resolution]"));
}

TEST_CASE("resize_and_crop: identity at the same size, bilinear half-pixel rule when scaling", "[unit][resolution]") {
  std::vector<float> src(2 * 3 * 4);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
  std::vector<float> same(src.size());
  resize_and_crop(TensorView<const float, 3>(src.data(), {2, 3, 4}), TensorView<float, 3>(same.data(), {2, 3, 4}));
  REQUIRE(same == src);
  // 1x2 -> 1x4 row [0, 1]: align_corners=False gives [0, 0.25, 0.75, 1].
  std::vector<float> row{0.0f, 1.0f}, up(8);
  resize_and_crop(TensorView<const float, 3>(row.data(), {1, 1, 2}), TensorView<float, 3>(up.data(), {1, 2, 4}));
  REQUIRE(up[0] == 0.0f);
  REQUIRE(up[1] == Approx(0.25f));
  REQUIRE(up[2] == Approx(0.75f));
  REQUIRE(up[3] == 1.0f);
  REQUIRE(up[4] == 0.0f);  // second row: same values (height 1 -> 2)
}

TEST_CASE("pixels: clamp, scale and round half to even like numpy", "[unit][resolution]") {
  REQUIRE(to_u8(-3.0f) == 0);
  REQUIRE(to_u8(5.0f) == 255);
  REQUIRE(to_u8(0.0f) == 128);  // 0.5 * 255 = 127.5 rounds to even 128
  REQUIRE(to_u8(-1.0f + 2.0f * 0.5f / 255.0f) == 0);  // 0.5 rounds to 0
  std::vector<float> img{-1, 1, 0, 0, 1, -1};  // (3, 1, 2)
  std::vector<std::uint8_t> px(6);
  to_pixels(TensorView<const float, 3>(img.data(), {3, 1, 2}), px);
  REQUIRE(px == std::vector<std::uint8_t>{0, 128, 255, 255, 128, 0});
}
