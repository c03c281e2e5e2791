// End-to-end parity: our SanaPipeline against diffusers' SanaPipeline / SanaPAGPipeline on the tiny random-weight
// folder of tools/reference/pipeline_fixtures.py, from the same initial latents, in fp32.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>

#include "sana/io/safetensors.hpp"
#include "sana/pipeline/sana_pipeline.hpp"
#include "support/backends.hpp"

using namespace sana;

namespace {
const std::string kDir = std::string(SANA_TEST_DATA_DIR) + "/pipeline";
const std::vector<std::string> kPrompts = {"A cat sleeping on a sunny windowsill", "a red fox in the snow"};

/// Largest per-pixel difference (in [0, 1] units) between our float image and diffusers' np output (N, H, W, 3).
double max_pixel_error(const pipeline::GenerateResult& r, const Tensor<float, 4, reference_backend>& want) {
  const std::int64_t H = r.height, W = r.width;
  double worst = 0;
  for (std::int64_t n = 0; n < r.count; ++n)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < H; ++y)
        for (std::int64_t x = 0; x < W; ++x) {
          const float ours = pipeline::to_unit_range(r.images[static_cast<std::size_t>(((n * 3 + c) * H + y) * W + x)]);
          worst = std::max(worst, std::abs(double(ours) - want.data()[((n * H + y) * W + x) * 3 + c]));
        }
  return worst;
}

/// The fixture's CFG request: both prompts, negative "blurry", 4 steps, 64x64, from diffusers' latents.
pipeline::GenerateRequest fixture_request(const Tensor<float, 4, reference_backend>& latents) {
  pipeline::GenerateRequest rq;
  rq.prompts = kPrompts;
  rq.negative_prompt = "blurry";
  rq.steps = 4;
  rq.guidance_scale = 4.5;
  rq.height = rq.width = 64;
  rq.resolution_binning = false;  // as the fixtures were made (use_resolution_binning=False)
  rq.initial_latents = std::span<const float>(latents.data(), static_cast<std::size_t>(latents.numel()));
  return rq;
}
} // namespace

TEMPLATE_LIST_TEST_CASE("SanaPipeline reproduces diffusers from identical latents", "[pipeline][parity]",
                        sana::test::ParityBackends) {
  using B = TestType;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = sana::test::test_context<B>();
  auto pipe = pipeline::SanaPipeline<B, float>::load(ctx, kDir + "/tiny_sana");
  const auto f = io::SafetensorsFile::open(kDir + "/outputs.safetensors");
  auto latents = f.load<float, 4>("latents");
  auto rq = fixture_request(latents);

  SECTION("CFG") {
    const auto r = pipe.generate(ctx, rq);
    const double err = max_pixel_error(r, f.load<float, 4>("cfg"));
    INFO("max per-pixel error " << err * 255 << "/255 on " << backend_traits<B>::name);
    WARN("CFG max per-pixel error " << err * 255 << "/255 on " << backend_traits<B>::name);
    CHECK(err <= 1.0 / 255);
  }
  SECTION("CFG, each step's model evaluation recorded and replayed") {
    rq.record_steps = true;  // CUDA graphs on the CUDA backend; a plain call on host backends
    const auto r = pipe.generate(ctx, rq);
    const double err = max_pixel_error(r, f.load<float, 4>("cfg"));
    WARN("CFG (recorded steps) max per-pixel error " << err * 255 << "/255 on " << backend_traits<B>::name);
    CHECK(err <= 1.0 / 255);
    rq.record_steps = false;
    CHECK(pipe.generate(ctx, rq).pixels == r.pixels);
  }
  SECTION("PAG") {
    rq.pag_scale = 3.0;
    rq.pag_blocks = {1};
    const auto r = pipe.generate(ctx, rq);
    const double err = max_pixel_error(r, f.load<float, 4>("pag"));
    WARN("PAG max per-pixel error " << err * 255 << "/255 on " << backend_traits<B>::name);
    CHECK(err <= 1.0 / 255);
  }
  SECTION("same seed, same image; early stop") {
    rq.initial_latents = {};
    rq.seed = 7;
    const auto a = pipe.generate(ctx, rq);
    const auto b = pipe.generate(ctx, rq);
    CHECK(a.pixels == b.pixels);
    int calls = 0;
    std::vector<std::vector<float>> seen;
    pipeline::GenerateCallbacks cb;
    cb.on_step = [&](int, int) { return ++calls < 2; };
    cb.on_latents = [&](int i, TensorView<const float, 4> l) {
      CHECK(i == static_cast<int>(seen.size()));
      CHECK(l.shape() == Shape<4>{2, 8, 16, 16});
      seen.emplace_back(l.data(), l.data() + l.numel());
    };
    const auto c = pipe.generate(ctx, rq, cb);
    CHECK(c.steps_run == 2);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] != seen[1]);  // each preview is the state after its own step
    int last = -1;  // a callback that never stops sees every step, the last one included
    const auto d = pipe.generate(ctx, rq, {[&](int i, int n) { last = i; CHECK(n == 4); return true; }});
    CHECK(last == 3);
    CHECK(d.steps_run == 4);
    CHECK(d.pixels == a.pixels);
  }
}

TEMPLATE_LIST_TEST_CASE("SanaPipeline reproduces SanaSprintPipeline (SCM, embedded guidance)", "[pipeline][parity]",
                        sana::test::ParityBackends) {
  using B = TestType;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = sana::test::test_context<B>();
  auto pipe = pipeline::SanaPipeline<B, float>::load(ctx, kDir + "/tiny_sana_sprint");
  CHECK(pipe.scheduler().sampler == "scm");
  const auto f = io::SafetensorsFile::open(kDir + "/outputs.safetensors");
  auto latents = f.load<float, 4>("latents");
  auto noise = f.load<float, 5>("step_noise");  // (steps, N, C, h, w)
  pipeline::GenerateRequest rq;
  rq.prompts = kPrompts;
  rq.guidance_scale = 4.5;
  rq.height = rq.width = 64;
  rq.resolution_binning = false;
  rq.initial_latents = std::span<const float>(latents.data(), static_cast<std::size_t>(latents.numel()));
  rq.step_noise = std::span<const float>(noise.data(), static_cast<std::size_t>(noise.numel()));

  SECTION("2 steps (the default), diffusers' noise") {
    const auto r = pipe.generate(ctx, rq);
    CHECK(r.steps_run == 2);
    const double err = max_pixel_error(r, f.load<float, 4>("sprint"));
    WARN("Sprint max per-pixel error " << err * 255 << "/255 on " << backend_traits<B>::name);
    CHECK(err <= 1.0 / 255);
  }
  SECTION("own noise: deterministic per seed, and it matters") {
    rq.step_noise = {};
    rq.seed = 3;
    const auto a = pipe.generate(ctx, rq);
    const auto b = pipe.generate(ctx, rq);
    CHECK(a.pixels == b.pixels);
    const double err = max_pixel_error(a, f.load<float, 4>("sprint"));
    CHECK(err > 1.0 / 255);  // a different intermediate noise gives a different image
  }
  SECTION("bad requests name the problem") {
    rq.sampler = "flow-dpm";
    CHECK_THROWS_WITH(pipe.generate(ctx, rq), Catch::Contains("samples with scm only"));
    rq.sampler = "";
    rq.pag_scale = 2.0;
    rq.pag_blocks = {1};
    CHECK_THROWS_WITH(pipe.generate(ctx, rq), Catch::Contains("PAG is not available"));
    rq.pag_scale = 0;
    rq.steps = 3;
    CHECK_THROWS_WITH(pipe.generate(ctx, rq), Catch::Contains("step noise holds"));
  }
}

TEST_CASE("the scm sampler needs a Sprint transformer", "[pipeline]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = pipeline::SanaPipeline<reference_backend, float>::load(ctx, kDir + "/tiny_sana");
  pipeline::GenerateRequest rq;
  rq.prompts = {"a fox"};
  rq.height = rq.width = 64;
  rq.steps = 1;
  rq.sampler = "scm";
  CHECK_THROWS_WITH(pipe.generate(ctx, rq), Catch::Contains("needs a Sana-Sprint transformer"));
}

TEST_CASE("SanaPipeline tiled VAE decode: a wide image decoded in 512 px tiles", "[pipeline]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = pipeline::SanaPipeline<reference_backend, float>::load(ctx, kDir + "/tiny_sana");
  pipeline::GenerateRequest rq;
  rq.prompts = {"a red fox in the snow"};
  rq.steps = 1;
  rq.width = 576;  // latent 144 wide > the 128-wide latent tile: two tiles blended over 64 px
  rq.height = 64;
  rq.resolution_binning = false;
  const auto plain = pipe.generate(ctx, rq);
  rq.vae_tiling = true;
  const auto tiled = pipe.generate(ctx, rq);
  REQUIRE(tiled.width == 576);
  REQUIRE(tiled.height == 64);
  REQUIRE(tiled.images.size() == plain.images.size());
  double diff = 0;
  for (std::size_t i = 0; i < plain.images.size(); ++i) diff += std::abs(plain.images[i] - tiled.images[i]);
  diff /= static_cast<double>(plain.images.size());
  WARN("tiled vs whole decode: mean |difference| " << diff << " (images in [-1, 1])");
  CHECK(diff < 0.05);  // tiles see less context and are blended, so not identical — but the same picture
}

TEST_CASE("SanaPipeline with an fp16 transformer beside a bf16 text encoder and VAE", "[pipeline]") {
  // The fp16 checkpoints' recommended setup. Half precision cannot match diffusers' fp32 output to 1/255;
  // it must stay close to it (measured below) and be deterministic.
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = pipeline::SanaPipeline<reference_backend, f16, bf16, bf16>::load(ctx, kDir + "/tiny_sana");
  const auto f = io::SafetensorsFile::open(kDir + "/outputs.safetensors");
  auto latents = f.load<float, 4>("latents");
  const auto rq = fixture_request(latents);
  const auto r = pipe.generate(ctx, rq);
  const double err = max_pixel_error(r, f.load<float, 4>("cfg"));
  WARN("f16 transformer + bf16 text/VAE vs diffusers fp32: max per-pixel error " << err * 255 << "/255");
  CHECK(err <= 16.0 / 255);
  CHECK(pipe.generate(ctx, rq).pixels == r.pixels);
}

TEST_CASE("generate refuses requests beyond the limits or the machine's memory, before any work", "[pipeline][negative]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = pipeline::SanaPipeline<reference_backend, float>::load(ctx, kDir + "/tiny_sana");
  pipeline::GenerateRequest rq;
  rq.prompts = {"a fox"};
  rq.steps = 1;
  rq.resolution_binning = false;
  auto fails = [&](auto edit, const char* message) {
    auto bad = rq;
    edit(bad);
    CHECK_THROWS_WITH(pipe.plan(bad), Catch::Contains(message));
    CHECK_THROWS_WITH(pipe.generate(ctx, bad), Catch::Contains(message));
  };
  fails([](auto& r) { r.steps = 1000000000; }, "steps must be in [1, 1000]");
  fails([](auto& r) { r.images_per_prompt = 100000; }, "above the limit of 256 images per request");
  fails([](auto& r) { r.width = 65536; }, "above the limit of 8192 px per side");
  fails([](auto& r) { r.guidance_scale = 1e308; }, "guidance scale must be in [-1000, 1000]");
  fails([](auto& r) { r.shift = -1; }, "shift must be > 0");
  fails([](auto& r) { r.prompts = {std::string(pipeline::max_prompt_bytes + 1, 'x')}; }, "prompt 0 is 1048577 bytes");
  // 200 images of 8192² cannot fit any machine this runs on; the estimate says so instead of std::bad_alloc.
  fails([](auto& r) {
    r.width = r.height = 8192;
    r.images_per_prompt = 200;
    r.resolution_binning = false;
  }, "GiB this machine has");
  const auto p = pipe.plan(rq);
  CHECK(p.latent_height == 16);
  CHECK(p.latent_width == 16);
  CHECK(p.steps == 1);
  CHECK(pipe.estimate_bytes(rq, p) > 0);
}

// (No ';' in test names: ctest's registration cuts the name there and the filter then matches nothing.)
TEST_CASE("generate: non-finite inputs fail with the stage named, first_image continues the noise sequence",
          "[pipeline][negative]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = pipeline::SanaPipeline<reference_backend, float>::load(ctx, kDir + "/tiny_sana");
  pipeline::GenerateRequest rq;
  rq.prompts = {"a fox"};
  rq.steps = 1;
  rq.resolution_binning = false;
  std::vector<float> latents(8 * 16 * 16, 0.5f);
  latents[7] = std::nanf("");
  rq.initial_latents = latents;
  CHECK_THROWS_WITH(pipe.generate(ctx, rq), Catch::Contains("the initial latents hold NaN or Inf"));
  std::fill(latents.begin(), latents.end(), 3e38f);  // finite, but the model's sums overflow
  rq.guidance_scale = 1000;
  CHECK_THROWS_WITH(pipe.generate(ctx, rq), Catch::Contains("the latents after denoising hold NaN or Inf"));

  // Image 1 of a two-image request equals image 0 of a request starting at stream 1.
  pipeline::GenerateRequest two;
  two.prompts = {"a fox"};
  two.steps = 1;
  two.resolution_binning = false;
  two.images_per_prompt = 2;
  pipeline::GenerateRequest second = two;
  second.images_per_prompt = 1;
  second.first_image = 1;
  const auto a = pipe.generate(ctx, two), b = pipe.generate(ctx, second);
  const std::size_t px = b.pixels.size();
  CHECK(std::equal(b.pixels.begin(), b.pixels.end(), a.pixels.begin() + static_cast<std::ptrdiff_t>(px)));
  CHECK_FALSE(std::equal(b.pixels.begin(), b.pixels.end(), a.pixels.begin()));
}
