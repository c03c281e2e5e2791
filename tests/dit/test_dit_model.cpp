// SanaTransformer against diffusers' SanaTransformer2DModel on the fixtures of
// tools/reference/dit_fixtures.py: fp32 within 1e-4 relative L2; bf16 within diffusers' own
// bf16-vs-fp32 difference on the same input (times 1.25).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>

#include <unistd.h>

#include "dit/dit_case.hpp"
#include "sana/io/safetensors_writer.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

namespace {
struct Case { const char* model; const char* io; };
constexpr Case kCases[] = {
    {"diffusers_test", "case"}, {"small", "square"}, {"small", "nonsquare"}, {"small", "mask"}, {"small", "pag"},
    {"qk_norm", "case"},        {"qk_norm", "pag"},  {"sprint", "case"},  {"pos_embed", "case"},
};

double rel_l2(const Tensor<float, 4, reference_backend>& got, const Tensor<float, 4, reference_backend>& want) {
  return relative_l2<float, 4>(got.view(), want.view());
}

} // namespace

TEMPLATE_LIST_TEST_CASE("SanaTransformer matches diffusers on every fixture", "[dit][model]", ModelMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  for (const Case& c : kCases) {
    auto model = dit::load_transformer<B, T>(test_context<B>(), dit_data(std::string(c.model) + "/transformer"));
    const auto f = io::SafetensorsFile::open(dit_data(std::string(c.model) + "/" + c.io + ".safetensors"));
    Workspace<B> ws;
    const auto got = run_case(*model, f, ws);
    const auto want = f.load<float, 4>("output");
    const double err = rel_l2(got, want);
    const double bf16_ref = f.load<float, 1>("bf16_rel_l2").data()[0];
    std::printf("[%s/%s] %s %s: relative L2 vs diffusers fp32 %.3e (diffusers bf16 vs fp32: %.3e)\n", c.model, c.io,
                std::string(backend_traits<B>::name).c_str(), std::is_same_v<T, float> ? "f32" : "bf16", err, bf16_ref);
    INFO(c.model << "/" << c.io << " relative L2 " << err);
    if constexpr (std::is_same_v<T, float>)
      REQUIRE(err <= 1e-4);
    else
      REQUIRE(err <= 1.25 * bf16_ref);
  }
}

TEST_CASE("PAG variants on a qk-norm model: diffusers' skips the norms in PAG blocks, NVlabs' keeps them",
          "[dit][model]") {
  using B = reference_backend;
  auto model = dit::load_transformer<B, float>(test_context<B>(), dit_data("qk_norm/transformer"));
  const auto f = io::SafetensorsFile::open(dit_data("qk_norm/pag.safetensors"));  // batch [cond, cond]
  Workspace<B> ws;
  const auto diffusers = run_case(*model, f, ws, 1, dit::PagVariant::diffusers);
  const auto nvlabs = run_case(*model, f, ws, 1, dit::PagVariant::nvlabs);
  REQUIRE(rel_l2(diffusers, f.load<float, 4>("output")) <= 1e-4);
  // NVlabs' unperturbed item is the plain block: equal to item 0 of the fixture batch without PAG.
  model->set_pag_blocks({});
  const std::int64_t per = nvlabs.numel() / 2;
  auto x = f.load<float, 4>("hidden_states");
  auto y = f.load<float, 3>("encoder_hidden_states");
  auto t = f.load<float, 1>("timestep");
  auto& ctx = test_context<B>();
  auto text = model->encode_text(ctx, ws, y.view(), {});
  ws.reset();
  Tensor<float, 4, B> out(x.shape());
  model->forward(ctx, ws, x.view(), std::span<const float>(t.data(), t.numel()), {}, text, out.view());
  ws.reset();
  double diff_plain = 0, diff_diffusers = 0;
  for (std::int64_t i = 0; i < per; ++i) {
    diff_plain = std::max(diff_plain, double(std::abs(nvlabs.data()[i] - out.data()[i])));
    diff_diffusers = std::max(diff_diffusers, double(std::abs(diffusers.data()[i] - out.data()[i])));
  }
  CHECK(diff_plain <= 1e-5);
  CHECK(diff_diffusers > 1e-3);  // the variants really differ on this model
}

TEST_CASE("original NVlabs key names load through the documented renaming", "[dit][model]") {
  auto& ctx = test_context<reference_backend>();
  auto folder = io::ModelFolder::open(dit_data("qk_norm/transformer"));
  dit::SanaTransformer<reference_backend, float> model(dit::TransformerConfig::from_json(folder.config()));
  const auto orig = io::SafetensorsFile::open(dit_data("qk_norm/original.safetensors"));
  dit::load_original_parameters(model, ctx, orig);
  const auto f = io::SafetensorsFile::open(dit_data("qk_norm/case.safetensors"));
  Workspace<reference_backend> ws;
  REQUIRE(rel_l2(run_case(model, f, ws), f.load<float, 4>("output")) <= 1e-4);
  REQUIRE(dit::original_key("transformer_blocks.3.attn1.to_k.weight").name == "blocks.3.attn.qkv.weight");
  REQUIRE(dit::original_key("transformer_blocks.3.attn1.to_k.weight").part == 1);
  REQUIRE(dit::original_key("transformer_blocks.0.attn2.to_v.bias").name == "blocks.0.cross_attn.kv_linear.bias");
  REQUIRE(dit::original_key("time_embed.guidance_embedder.linear_2.weight").name == "cfg_embedder.mlp.2.weight");
}

TEST_CASE("cached text conditioning equals the one-shot forward, the workspace settles", "[dit][model]") {
  using B = reference_backend;
  auto& ctx = test_context<B>();
  auto model = dit::load_transformer<B, float>(ctx, dit_data("small/transformer"));
  const auto f = io::SafetensorsFile::open(dit_data("small/mask.safetensors"));
  Workspace<B> ws;
  const auto first = run_case(*model, f, ws, 2);
  const std::size_t allocs = ws.allocation_count();
  run_case(*model, f, ws, 3);
  REQUIRE(ws.allocation_count() == allocs);  // no allocation once sized

  auto x = f.load<float, 4>("hidden_states");
  auto y = f.load<float, 3>("encoder_hidden_states");
  auto t = f.load<float, 1>("timestep");
  auto m = f.load<float, 2>("encoder_attention_mask");
  auto text = model->encode_text(ctx, ws, y.view(), std::span<const float>(m.data(), m.numel()));
  ws.reset();
  Tensor<float, 4, B> out({x.size(0), 32, x.size(2), x.size(3)});
  model->set_pag_blocks({});
  model->forward(ctx, ws, x.view(), std::span<const float>(t.data(), t.numel()), {}, text, out.view());
  REQUIRE(relative_l2<float, 4>(out.view(), first.view()) <= 1e-6);
}

TEST_CASE("loading reports missing, unexpected and wrongly shaped tensors and bad configs", "[dit][model]") {
  namespace fs = std::filesystem;
  auto& ctx = test_context<reference_backend>();
  const fs::path src = dit_data("diffusers_test/transformer");
  const fs::path dir = fs::temp_directory_path() / ("sana_dit_load_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto orig = io::SafetensorsFile::open(src / "diffusion_pytorch_model.safetensors");
  std::vector<Tensor<float, 1, reference_backend>> keep;
  auto write = [&](const std::string& drop, const std::string& extra, const std::string& reshape) {
    io::SafetensorsWriter w;
    keep.clear();
    keep.reserve(orig.size() + 1);
    for (const auto& e : orig.tensors()) {
      if (e.name == drop) continue;
      keep.emplace_back(Shape<1>{e.numel});
      io::copy_elements(orig.name(), e, keep.back().data());
      std::vector<std::int64_t> shape = e.shape;
      if (e.name == reshape) shape = {e.numel};
      w.add_raw(e.name, io::StoredDType::F32, shape,
                std::as_bytes(std::span<const float>(keep.back().data(), static_cast<std::size_t>(e.numel))));
    }
    if (!extra.empty()) {
      keep.emplace_back(Shape<1>{1});
      keep.back().data()[0] = 0.0f;
      w.add(extra, TensorView<const float, 1>(keep.back().view()));
    }
    w.write(dir / "diffusion_pytorch_model.safetensors");
  };
  auto load = [&] { return dit::load_transformer<reference_backend, float>(ctx, dir); };
  fs::copy_file(src / "config.json", dir / "config.json", fs::copy_options::overwrite_existing);
  write("transformer_blocks.0.attn1.to_k.weight", "", "");
  REQUIRE_THROWS_WITH(load(),
                      Catch::Contains("transformer_blocks.0.attn1.to_k.weight") && Catch::Contains("not found"));
  write("", "transformer_blocks.0.attn1.extra", "");
  REQUIRE_THROWS_WITH(load(),
                      Catch::Contains("unexpected") && Catch::Contains("transformer_blocks.0.attn1.extra"));
  write("", "", "proj_out.weight");
  REQUIRE_THROWS_WITH(load(), Catch::Contains("proj_out.weight"));
  {
    std::FILE* c = std::fopen((dir / "config.json").c_str(), "w");
    std::fputs("{\"num_layers\": 1, \"cross_attention_dim\": 7, \"attention_head_dim\": 4, \"num_attention_heads\": 2}", c);
    std::fclose(c);
  }
  REQUIRE_THROWS_WITH(load(), Catch::Contains("cross_attention_dim"));
  {
    std::FILE* c = std::fopen((dir / "config.json").c_str(), "w");
    std::fputs("{\"qk_norm\": \"layer_norm\"}", c);
    std::fclose(c);
  }
  REQUIRE_THROWS_WITH(load(), Catch::Contains("qk_norm"));
  fs::remove_all(dir);
}

TEST_CASE("parameter counts of the released configs match the spec", "[dit][model]") {
  // Counted on the host without allocating the weights: visit shapes of a 1-layer model, scale by depth.
  auto count = [](dit::TransformerConfig c) {
    const std::int64_t layers = c.num_layers;
    c.num_layers = 1;
    dit::SanaTransformer<reference_backend, bf16> one(c);
    c.num_layers = 2;
    dit::SanaTransformer<reference_backend, bf16> two(c);
    const std::int64_t per_block = two.parameter_count() - one.parameter_count();
    return one.parameter_count() + (layers - 1) * per_block;
  };
  dit::TransformerConfig c16;  // diffusers defaults = Sana 1.6B
  REQUIRE(std::abs(count(c16) / 1e6 - 1604.5) < 0.1);
  dit::TransformerConfig c06 = c16;
  c06.num_attention_heads = 36;
  c06.num_layers = 28;
  c06.num_cross_attention_heads = 16;
  c06.cross_attention_head_dim = 72;
  c06.cross_attention_dim = 1152;
  REQUIRE(std::abs(count(c06) / 1e6 - 591.7) < 0.1);
}
