// AutoencoderDC against diffusers fixtures (tools/reference/make_dcae_fixtures.py): decode, encode,
// tiled decode and tiled encode in fp32 on every compiled backend (tiling: host backends); relative L2 <= 1e-4.
#include <catch2/catch.hpp>

#include <string>

#include "sana/dcae/autoencoder.hpp"
#include "sana/dcae/tiling.hpp"
#include "sana/io/safetensors.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"
#include "support/memory_format.hpp"

using namespace sana;
using namespace sana::test;

namespace {
constexpr double kFixtureTolerance = 1e-4;

std::string fixture(const std::string& name, const std::string& file) {
  return std::string(SANA_TEST_DATA_DIR) + "/dcae/" + name + "/" + file;
}

template <class B>
dcae::AutoencoderDC<B, float> load_model(const std::string& name) {
  return dcae::AutoencoderDC<B, float>::from_folder(test_context<B>(), std::string(SANA_TEST_DATA_DIR) + "/dcae/" + name);
}

template <class B>
void check_decode(const dcae::AutoencoderDC<B, float>& m, const io::SafetensorsFile& io, const char* in, const char* want_name,
                  Workspace<B>& ws) {
  auto& ctx = test_context<B>();
  auto z = io.load<float, 4>(in);
  auto want = io.load<float, 4>(want_name);
  auto zd = to_backend<B>(ctx, z.view());
  Tensor<float, 4, B> got(m.decoder.out_shape(z.shape()));
  m.decode(ctx, ws, zd.view(), got.view());
  const double err = relative_l2<float, 4>(roundtrip(got).view(), want.view());
  WARN(in << " -> " << want_name << " relative L2 " << err);
  require_close<float, 4>(roundtrip(got).view(), want.view(), kFixtureTolerance);
}

template <class B>
void check_encode(const dcae::AutoencoderDC<B, float>& m, const io::SafetensorsFile& io, Workspace<B>& ws) {
  auto& ctx = test_context<B>();
  auto x = io.load<float, 4>("sample");
  auto want = io.load<float, 4>("latent");
  auto xd = to_backend<B>(ctx, x.view());
  Tensor<float, 4, B> got(m.encoder.out_shape(x.shape()));
  m.encode(ctx, ws, xd.view(), got.view());
  const double err = relative_l2<float, 4>(roundtrip(got).view(), want.view());
  WARN("encode relative L2 " << err);
  require_close<float, 4>(roundtrip(got).view(), want.view(), kFixtureTolerance);
}
} // namespace

using HostBackends = ParityBackends;

TEMPLATE_LIST_TEST_CASE("AutoencoderDC matches diffusers (decode, encode)", "[dcae][fixture]", ParityBackends) {
  using B = TestType;
  SANA_REQUIRE_BACKEND(B);
  {
    const std::string name = GENERATE(as<std::string>{}, "diffusers_test", "evit3", "lite_pixel");
    INFO("fixture " << name << " on " << backend_traits<B>::name);
    auto m = load_model<B>(name);
    const auto io = io::SafetensorsFile::open(fixture(name, "io.safetensors"));
    Workspace<B> ws;
    const MemoryFormat preferred = m.decoder.format;
    for (const MemoryFormat f : test_formats<B>()) {  // activations inside in each format the backend takes
      INFO(memory_format_name(f) << " activations");
      m.decoder.format = m.encoder.format = f;
      check_decode(m, io, "latent", "decoded", ws);
      check_encode(m, io, ws);
      if (name == "evit3") check_decode(m, io, "small_latent", "small_decoded", ws);
    }
    m.decoder.format = m.encoder.format = preferred;
    // A second call reuses the planned workspace: no new allocation.
    ws.reset();
    const auto allocs = ws.allocation_count();
    check_decode(m, io, "latent", "decoded", ws);
    CHECK(ws.allocation_count() == allocs);
  }
}

TEMPLATE_LIST_TEST_CASE("Tiled decode and encode match diffusers' tiling", "[dcae][fixture][tiling]", HostBackends) {
  using B = TestType;
  if constexpr (is_host_backend_v<B>) {
    auto& ctx = test_context<B>();
    auto m = load_model<B>("diffusers_test");
    const auto io = io::SafetensorsFile::open(fixture("diffusers_test", "io.safetensors"));
    dcae::Tiling t;
    t.tile_h = t.tile_w = std::stoll(*io.metadata_value("tile_sample_min"));
    t.stride_h = t.stride_w = std::stoll(*io.metadata_value("tile_sample_stride"));
    Workspace<B> ws;
    {
      auto z = io.load<float, 4>("tiled_latent_in");
      auto want = io.load<float, 4>("tiled_decoded");
      REQUIRE(dcae::decode_needs_tiling(m.config, t, z.size(2), z.size(3)));
      Tensor<float, 4, B> got(want.shape());
      dcae::tiled_decode(m.decoder, ctx, ws, z.view(), got.view(), t);
      // Tile buffers, strips and one decoder plan: a fixed number of blocks, whatever the tile count.
      CHECK(ws.allocation_count() <= 5);
      CHECK(ws.high_water() <= dcae::tiled_decode_bytes(m.decoder, 1, z.size(3), t));
      WARN("tiled decode relative L2 " << (relative_l2<float, 4>(roundtrip(got).view(), want.view())));
      require_close<float, 4>(roundtrip(got).view(), want.view(), kFixtureTolerance);
    }
    {
      auto x = io.load<float, 4>("tiled_sample_in");
      auto want = io.load<float, 4>("tiled_latent");
      Tensor<float, 4, B> got(want.shape());
      dcae::tiled_encode(m.encoder, ctx, ws, x.view(), got.view(), t);
      WARN("tiled encode relative L2 " << (relative_l2<float, 4>(roundtrip(got).view(), want.view())));
      require_close<float, 4>(roundtrip(got).view(), want.view(), kFixtureTolerance);
    }
  }
}

TEMPLATE_LIST_TEST_CASE("Tiled decode on a device backend: tiles on the device, blending on the host",
                        "[dcae][fixture][tiling]", ParityBackends) {
  using B = TestType;
  if constexpr (!is_host_backend_v<B>) {
    SANA_REQUIRE_BACKEND(B);
    auto& ctx = test_context<B>();
    auto m = load_model<B>("diffusers_test");
    const auto io = io::SafetensorsFile::open(fixture("diffusers_test", "io.safetensors"));
    dcae::Tiling t;
    t.tile_h = t.tile_w = std::stoll(*io.metadata_value("tile_sample_min"));
    t.stride_h = t.stride_w = std::stoll(*io.metadata_value("tile_sample_stride"));
    Workspace<B> ws;
    auto z = io.load<float, 4>("tiled_latent_in");
    auto want = io.load<float, 4>("tiled_decoded");
    auto zd = to_backend<B>(ctx, z.view());
    Tensor<float, 4, reference_backend> got(want.shape());  // host output
    dcae::tiled_decode(m.decoder, ctx, ws, TensorView<const float, 4, space_t<B>>(zd.view()), got.view(), t);
    WARN("device tiled decode relative L2 " << (relative_l2<float, 4>(got.view(), want.view())) << " on "
                                            << backend_traits<B>::name);
    require_close<float, 4>(got.view(), want.view(), kFixtureTolerance);
  }
}

TEST_CASE("DC-AE config and loading errors name the file and the tensor", "[dcae][errors]") {
  reference::Context ctx;
  const std::string dir = std::string(SANA_TEST_DATA_DIR) + "/dcae/diffusers_test";
  // A config whose channels differ from the checkpoint: the wrongly shaped tensor is named.
  auto cfg = dcae::Config::load(dir + "/config.json");
  cfg.decoder.channels = {8, 16};
  dcae::AutoencoderDC<reference_backend, float> m(cfg, {false, true});
  const auto file = io::SafetensorsFile::open(dir + "/model.safetensors");
  REQUIRE_THROWS_WITH(m.load(ctx, file), Catch::Contains("decoder.conv_in.weight"));
  // Bad config values.
  REQUIRE_THROWS_WITH(dcae::Config::from_json(io::JsonConfig::parse(R"({"decoder_block_types": "Transformer"})", "cfg.json")),
                      Catch::Contains("Transformer"));
  REQUIRE_THROWS_WITH(dcae::Config::from_json(io::JsonConfig::parse(R"({"decoder_layers_per_block": [1, 2]})", "cfg.json")),
                      Catch::Contains("decoder_layers_per_block"));
  // The Sana f32c32 config builds and has the documented parameter counts.
  const auto sana = dcae::Config::sana_f32c32();
  CHECK(sana.spatial_compression() == 32);
  CHECK(sana.scaling_factor == Approx(0.41407));
}

TEST_CASE("tiling_for_budget picks the largest tile whose tiled decode fits", "[dcae][tiling]") {
  reference::Context ctx;
  auto m = dcae::AutoencoderDC<reference_backend, float>::from_folder(
      ctx, std::string(SANA_TEST_DATA_DIR) + "/dcae/diffusers_test", {false, true});
  dcae::Tiling t16;
  t16.tile_h = t16.tile_w = 32;
  t16.stride_h = t16.stride_w = 28;
  const std::size_t budget = dcae::tiled_decode_bytes(m.decoder, 1, 40, t16);
  const auto t = dcae::tiling_for_budget(m.decoder, 1, 40, budget);
  CHECK(t.tile_h == 32);
  CHECK(t.stride_h == 28);
  CHECK(dcae::tiled_decode_bytes(m.decoder, 1, 40, t) <= budget);
  // A bigger budget gives a bigger tile; one that fits nothing is an error naming the budget.
  CHECK(dcae::tiling_for_budget(m.decoder, 1, 40, 4 * budget).tile_h > 32);
  REQUIRE_THROWS_WITH(dcae::tiling_for_budget(m.decoder, 1, 40, 1000), Catch::Contains("budget of 1000 bytes"));
  // And the chosen tiling really stays inside the budget.
  Tensor<float, 4, reference_backend> z(Shape<4>{1, 4, 40, 40});
  for (std::int64_t i = 0; i < z.numel(); ++i) z.data()[i] = static_cast<float>((i * 37) % 11) * 0.1f - 0.5f;
  Tensor<float, 4, reference_backend> out(Shape<4>{1, 3, 80, 80});
  Workspace<reference_backend> ws;
  dcae::tiled_decode(m.decoder, ctx, ws, z.view(), out.view(), t);
  CHECK(ws.high_water() <= budget);
}
