// LoRA: reading the formats (tools/reference/lora_fixtures.py, made with peft + diffusers), merging into the
// transformer on every backend against diffusers' unfused PEFT layers, unmerging bit for bit, and the errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "dit/dit_case.hpp"
#include "sana/dit/lora.hpp"
#include "sana/io/safetensors_writer.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

namespace {
std::string lora_data(const std::string& rel) { return std::string(SANA_TEST_DATA_DIR) + "/lora/" + rel; }

std::shared_ptr<const dit::LoraFile> lora(const std::string& rel) {
  return std::make_shared<const dit::LoraFile>(dit::read_lora_file(lora_data(rel)));
}

const dit::LoraLayer& layer(const dit::LoraFile& f, const std::string& module) {
  for (const auto& l : f.layers)
    if (l.module == module) return l;
  FAIL("no layer " << module << " in " << f.name);
  throw 0;
}

/// A scratch file name unique to this process.
std::filesystem::path scratch(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("sana_lora_" + std::to_string(::getpid()) + "_" + name);
}

/// Writes a small LoRA for one module of the small fixture (C = 64): A (ra, in), B (out, rb).
std::filesystem::path write_lora(const std::string& name, const std::string& a_key, std::vector<std::int64_t> a_shape,
                                 const std::string& b_key, std::vector<std::int64_t> b_shape, std::string metadata = {}) {
  std::vector<std::vector<float>> values;  // the writer borrows the bytes until write()
  io::SafetensorsWriter w;
  auto add = [&](const std::string& key, const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    const std::vector<float>& v = values.emplace_back(static_cast<std::size_t>(n), 0.01f);
    w.add_raw(key, io::StoredDType::F32, shape,
              std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()), v.size() * sizeof(float)));
  };
  add(a_key, a_shape);
  if (!b_key.empty()) add(b_key, b_shape);
  if (!metadata.empty()) w.set_metadata("lora_adapter_metadata", metadata);
  const auto p = scratch(name);
  w.write(p);
  return p;
}

template <class B, class T>
std::vector<unsigned char> weights_of(dit::SanaTransformer<B, T>& m) {  // every parameter's bytes
  std::vector<unsigned char> all;
  m.visit_parameters([&](const std::string&, const auto& v) {
    auto h = to_host<B>(test_context<B>(), TensorView<const T, std::remove_cvref_t<decltype(v)>::rank, space_t<B>>(v));
    const auto* p = reinterpret_cast<const unsigned char*>(h.data());
    all.insert(all.end(), p, p + h.bytes());
  });
  return all;
}
} // namespace

TEST_CASE("LoRA files: formats, ranks and alphas as diffusers reads them", "[dit][lora]") {
  const auto meta = lora("meta.safetensors");
  CHECK(meta->format == "diffusers");
  CHECK(meta->alpha_source == "lora_adapter_metadata");
  CHECK(layer(*meta, "transformer_blocks.1.attn2.to_k").scaling() == Approx(8.0 / 4));
  CHECK(layer(*meta, "caption_projection.linear_1").rank == 4);
  CHECK(layer(*meta, "transformer_blocks.0.ff.conv_inverted").down_shape.size() == 4);

  const auto plain = lora("plain.safetensors");  // no metadata: alpha = rank per module
  CHECK(plain->alpha_source == "none (alpha = rank)");
  CHECK(layer(*plain, "transformer_blocks.0.attn2.to_v").rank == 6);
  CHECK(layer(*plain, "transformer_blocks.0.attn2.to_q").rank == 2);
  CHECK(layer(*plain, "transformer_blocks.0.attn2.to_v").scaling() == 1.0);
  CHECK(layer(*plain, "proj_out").up_bias.size() == 32);

  const auto kohya = lora("kohya.safetensors");
  CHECK(kohya->format == "kohya");
  CHECK(kohya->alpha_source == "alpha tensors");
  CHECK(layer(*kohya, "transformer_blocks.1.attn1.to_out.0").scaling() == Approx(3.0 / 4));
  CHECK(layer(*kohya, "time_embed.linear").rank == 4);

  const auto peft = lora("peft/adapter_model.safetensors");
  CHECK(peft->format == "peft");
  CHECK(peft->alpha_source == "adapter_config.json");
  CHECK(layer(*peft, "transformer_blocks.0.attn1.to_k").scaling() == Approx(5.0 / std::sqrt(3.0)));  // use_rslora
  CHECK(peft->layers.size() == 12);  // to_q, to_k, to_v of attn1 and attn2 in 2 blocks
}

TEMPLATE_LIST_TEST_CASE("merged LoRAs match diffusers' PEFT layers and unmerge exactly", "[dit][lora]", ModelMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  auto model = dit::load_transformer<B, T>(ctx, dit_data("small/transformer"));
  const auto f = io::SafetensorsFile::open(lora_data("case.safetensors"));
  const auto before = weights_of(*model);
  Workspace<B> ws;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 2e-2;
  struct Run { const char* want; std::vector<dit::LoraAdapter> adapters; };
  const std::vector<Run> runs = {
      {"out_meta", {{lora("meta.safetensors"), 1.0f}}},
      {"out_mix", {{lora("meta.safetensors"), 0.7f}, {lora("plain.safetensors"), -0.5f}}},
      {"out_kohya", {{lora("kohya.safetensors"), 1.0f}}},
      {"out_peft", {{lora("peft/adapter_model.safetensors"), 1.0f}}},
  };
  dit::MergedLoras<B, T> merged;
  for (const Run& r : runs) {
    merged.merge(*model, ctx, r.adapters);  // replaces the previous run's merge
    const double err = relative_l2<float, 4>(run_case(*model, f, ws).view(), f.load<float, 4>(r.want).view());
    std::printf("[lora %s] %s %s: relative L2 vs diffusers fp32 %.3e\n", r.want,
                std::string(backend_traits<B>::name).c_str(), std::is_same_v<T, float> ? "f32" : "bf16", err);
    INFO(r.want << " relative L2 " << err);
    CHECK(err <= tol);
  }
  merged.unmerge(*model, ctx);
  CHECK(merged.empty());
  CHECK(weights_of(*model) == before);
  const double base = relative_l2<float, 4>(run_case(*model, f, ws).view(), f.load<float, 4>("out_base").view());
  CHECK(base <= tol);
}

TEST_CASE("LoRA errors name the file and key, and leave the model as it was", "[dit][lora]") {
  using B = reference_backend;
  auto& ctx = test_context<B>();
  auto model = dit::load_transformer<B, float>(ctx, dit_data("small/transformer"));
  const auto before = weights_of(*model);
  const std::string q = "transformer.transformer_blocks.0.attn1.to_q.";
  auto merge_one = [&](const std::filesystem::path& p) {
    dit::MergedLoras<B, float> m;
    const std::vector<dit::LoraAdapter> a = {{lora("meta.safetensors"), 1.0f},
                                             {std::make_shared<const dit::LoraFile>(dit::read_lora_file(p)), 1.0f}};
    m.merge(*model, ctx, a);
  };
  SECTION("not safetensors") {
    const auto p = scratch("text.safetensors");
    std::ofstream(p) << "this is not a LoRA";
    CHECK_THROWS_WITH(dit::read_lora_file(p), Catch::Contains(p.string()) && Catch::Contains("not a readable safetensors"));
    std::filesystem::remove(p);
  }
  SECTION("a block the model does not have") {
    const auto p = write_lora("block9.safetensors", "transformer.transformer_blocks.9.attn1.to_q.lora_A.weight", {2, 64},
                              "transformer.transformer_blocks.9.attn1.to_q.lora_B.weight", {64, 2});
    CHECK_THROWS_WITH(merge_one(p), Catch::Contains("transformer_blocks.9.attn1.to_q") && Catch::Contains("matches no layer"));
    std::filesystem::remove(p);
  }
  SECTION("factors of another model size") {
    const auto p = write_lora("wide.safetensors", q + "lora_A.weight", {2, 1152}, q + "lora_B.weight", {1152, 2});
    CHECK_THROWS_WITH(merge_one(p), Catch::Contains("do not fit transformer_blocks.0.attn1.to_q.weight (64, 64)"));
    std::filesystem::remove(p);
  }
  SECTION("ranks that do not pair") {
    const auto p = write_lora("rank.safetensors", q + "lora_A.weight", {4, 64}, q + "lora_B.weight", {64, 3});
    CHECK_THROWS_WITH(dit::read_lora_file(p), Catch::Contains("not a rank-r pair"));
    std::filesystem::remove(p);
  }
  SECTION("a factor missing") {
    const auto p = write_lora("half.safetensors", q + "lora_A.weight", {4, 64}, "", {});
    CHECK_THROWS_WITH(dit::read_lora_file(p), Catch::Contains("needs both") && Catch::Contains("lora_B"));
    std::filesystem::remove(p);
  }
  SECTION("a text-encoder LoRA") {
    const auto p = write_lora("te.safetensors", "text_encoder.layers.0.q_proj.lora_A.weight", {4, 64}, "", {});
    CHECK_THROWS_WITH(dit::read_lora_file(p), Catch::Contains("text-encoder LoRA"));
    std::filesystem::remove(p);
  }
  SECTION("a kohya name of another model") {
    const auto p = write_lora("unet.safetensors", "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight", {4, 64}, "", {});
    CHECK_THROWS_WITH(dit::read_lora_file(p), Catch::Contains("names no Sana transformer layer"));
    std::filesystem::remove(p);
  }
  SECTION("an adapter config we do not implement") {
    const auto p = write_lora("dora.safetensors", q + "lora_A.weight", {4, 64}, q + "lora_B.weight", {64, 4},
                              R"({"transformer.r": 4, "transformer.use_dora": true})");
    CHECK_THROWS_WITH(dit::read_lora_file(p), Catch::Contains("'use_dora'") && Catch::Contains("refused"));
    std::filesystem::remove(p);
  }
  SECTION("a rank the config contradicts") {
    const auto p = write_lora("cfg.safetensors", q + "lora_A.weight", {4, 64}, q + "lora_B.weight", {64, 4},
                              R"({"transformer.r": 8, "transformer.lora_alpha": 8})");
    CHECK_THROWS_WITH(dit::read_lora_file(p), Catch::Contains("says rank 8 but lora_A has 4"));
    std::filesystem::remove(p);
  }
  CHECK(weights_of(*model) == before);
}
