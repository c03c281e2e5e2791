// The embedded toy model (models/sana-toy) through the C++ pipeline: it must equal diffusers' SanaPipeline on
// the same folder and initial latents (fixtures written by tools/toy/train_toy_sana.py), and its images must
// show the prompt (colour x shape x background, held-out combinations included), scored automatically.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sana/io/json_file.hpp"
#include "sana/io/safetensors.hpp"
#include "sana/pipeline/sana_pipeline.hpp"
#include "support/backends.hpp"
#include "toy_score.hpp"

using namespace sana;

namespace {
const std::string kModel = std::string(SANA_TEST_DATA_DIR) + "/../../models/sana-toy";
const std::string kCases = std::string(SANA_TEST_DATA_DIR) + "/toy";

#ifdef SANA_WITH_ONEDNN
using HostBackend = onednn_backend;
#else
using HostBackend = reference_backend;
#endif

std::string article(const std::string& w) { return std::string("aeiou").find(w[0]) != std::string::npos ? "an" : "a"; }
} // namespace

TEST_CASE("toy model: C++ pipeline equals diffusers' SanaPipeline within 2/255", "[toy][parity]") {
  auto& ctx = sana::test::test_context<HostBackend>();
  auto pipe = pipeline::SanaPipeline<HostBackend, float>::load(ctx, kModel);
  std::ifstream in(kCases + "/cases.json");
  const auto doc = nlohmann::json::parse(in);
  for (const auto& c : doc.at("cases")) {
    const std::string prompt = c.at("prompt");
    INFO("prompt: " << prompt);
    const auto f = io::SafetensorsFile::open(kCases + "/" + c.at("file").get<std::string>());
    auto latents = f.load<float, 4>("initial_latents");
    auto want = f.load<std::uint8_t, 3>("image_u8");  // (H, W, 3)
    pipeline::GenerateRequest rq;
    rq.prompts = {prompt};
    rq.negative_prompt = c.at("negative_prompt");
    rq.steps = c.at("num_inference_steps");
    rq.guidance_scale = c.at("guidance_scale");
    rq.height = c.at("height");
    rq.width = c.at("width");
    rq.resolution_binning = false;
    rq.initial_latents = std::span<const float>(latents.data(), static_cast<std::size_t>(latents.numel()));
    const auto r = pipe.generate(ctx, rq);
    REQUIRE(r.pixels.size() == static_cast<std::size_t>(want.numel()));
    int worst = 0;
    for (std::size_t i = 0; i < r.pixels.size(); ++i)
      worst = std::max(worst, std::abs(int(r.pixels[i]) - int(want.data()[i])));
    WARN("max per-pixel difference to diffusers: " << worst << "/255");
    CHECK(worst <= 2);
  }
}

TEST_CASE("toy model: images show the prompt (24+ combinations, held-out ones included)", "[toy][quality]") {
  auto& ctx = sana::test::test_context<HostBackend>();
  auto pipe = pipeline::SanaPipeline<HostBackend, float>::load(ctx, kModel);
  struct Combo { std::string colour, shape, bg; bool held_out; };
  // The 8 held-out triples of tools/toy/toy_common.py, never in the training captions, and 24 seen ones.
  std::vector<Combo> combos = {{"red", "triangle", "green", true},  {"blue", "circle", "yellow", true},
                               {"yellow", "square", "purple", true}, {"white", "triangle", "black", true},
                               {"orange", "circle", "blue", true},   {"purple", "square", "white", true},
                               {"green", "circle", "orange", true},  {"black", "triangle", "red", true}};
  const char* names[] = {"red", "green", "blue", "yellow", "orange", "purple", "white", "black"};
  const char* shapes[] = {"circle", "square", "triangle"};
  for (int i = 0; i < 24; ++i) {  // a spread over colours, shapes and backgrounds
    Combo c{names[i % 8], shapes[i % 3], names[(i * 3 + 1) % 8], false};
    if (c.bg == c.colour) c.bg = names[(i * 3 + 2) % 8];
    bool held = false;
    for (int k = 0; k < 8; ++k) held |= combos[k].colour == c.colour && combos[k].shape == c.shape && combos[k].bg == c.bg;
    if (!held) combos.push_back(c);
  }
  int ok = 0, ok_held = 0, n_held = 0;
  std::string misses;
  for (std::size_t i = 0; i < combos.size(); ++i) {
    const auto& c = combos[i];
    pipeline::GenerateRequest rq;
    rq.prompts = {article(c.colour) + " " + c.colour + " " + c.shape + " on a " + c.bg + " background"};
    rq.seed = 1000 + i;
    rq.resolution_binning = false;
    const auto r = pipe.generate(ctx, rq);
    const auto a = sana::test::toy::analyse(r.pixels.data(), static_cast<int>(r.height), static_cast<int>(r.width));
    const bool good = a.background == c.bg && a.object == c.colour && a.shape == c.shape;
    ok += good;
    n_held += c.held_out;
    ok_held += good && c.held_out;
    if (!good) misses += "\n  '" + rq.prompts[0] + "' -> " + a.object + " " + a.shape + " on " + a.background;
  }
  const double pct = 100.0 * ok / static_cast<double>(combos.size());
  WARN("toy model: " << ok << "/" << combos.size() << " correct (" << pct << " %), held-out " << ok_held << "/" << n_held
                     << misses);
  REQUIRE(combos.size() >= 24);
  CHECK(pct >= 90.0);
}
