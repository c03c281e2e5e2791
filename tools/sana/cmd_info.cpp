// `sana info DIR`: what a diffusers Sana folder holds — components, key config values, weight dtypes and
// parameter counts — and which pieces are missing. Reads headers only; loads no weights. With --check it also
// parses every config as `sana generate` would and scans every weight for NaN/Inf (reads all the weights once).
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "sana/dit/lora_file.hpp"
#include "sana/io/json_file.hpp"
#include "sana/io/safetensors.hpp"
#include "sana/io/weights_check.hpp"
#include "sana/pipeline/sana_pipeline.hpp"

namespace sana_cli {
namespace {
namespace fs = std::filesystem;

/// Prints "dtype: count" over every .safetensors file directly in `dir`; returns false when there is none. With
/// `check`, counts NaN/Inf per tensor and throws naming the first file and tensor that holds any.
bool weights_summary(const fs::path& dir, bool check) {
  std::map<std::string, std::int64_t> per_dtype;
  std::int64_t total = 0, files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    ++files;
    const auto f = sana::io::SafetensorsFile::open(e.path());
    for (const auto& t : f.tensors()) {
      per_dtype[std::string(sana::io::stored_dtype_name(t.dtype))] += t.numel;
      total += t.numel;
      if (check)
        if (const std::int64_t bad = sana::io::count_nonfinite(t))
          sana::fail(e.path().parent_path().filename().string() + "/" + e.path().filename().string(), "tensor '", t.name,
                     "' holds ", bad, " NaN or Inf value(s) of ", t.numel);
    }
  }
  if (files == 0) return false;
  std::printf("    parameters: %lld (%.2f M) in %lld file(s);", static_cast<long long>(total), total / 1e6,
              static_cast<long long>(files));
  for (const auto& [d, n] : per_dtype) std::printf(" %s: %lld", d.c_str(), static_cast<long long>(n));
  std::printf("\n");
  return true;
}

/// `sana info --lora FILE`: the format, where alpha came from, and every module the LoRA changes.
int lora_info(const std::string& path) {
  const sana::dit::LoraFile f = sana::dit::read_lora_file(path);
  std::printf("%s: %s LoRA, %zu module(s), alpha from %s\n", f.name.c_str(), f.format.c_str(), f.layers.size(),
              f.alpha_source.c_str());
  for (const auto& l : f.layers)
    std::printf("    %s: rank %lld, alpha %g, scaling %g%s%s\n", l.module.c_str(), static_cast<long long>(l.rank), l.alpha,
                l.scaling(), l.rslora ? " (rslora)" : "", l.up_bias.empty() ? "" : ", with bias");
  return 0;
}

void print_keys(const sana::io::JsonConfig& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (j.contains(k)) std::printf("    %s: %s\n", k, j.json().at(k).dump().c_str());
}
} // namespace

int cmd_info(std::span<const std::string_view> args) {
  bool check = false;
  std::vector<std::string_view> pos;
  std::string lora;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--check") check = true;
    else if (args[i] == "--lora" && i + 1 < args.size()) lora = std::string(args[++i]);
    else pos.push_back(args[i]);
  }
  if (!lora.empty() && pos.empty()) {
    try {
      return lora_info(lora);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sana info: %s\n", e.what());
      return 1;
    }
  }
  if (pos.size() != 1 || pos[0] == "-h" || pos[0] == "--help" || !lora.empty()) {
    std::fputs("usage: sana info [--check] DIR   (a diffusers Sana folder: components, configs, dtypes, parameter\n"
               "       counts; --check also parses every config as generate does and scans the weights for NaN/Inf)\n"
               "       sana info --lora FILE    (a LoRA: its format, ranks and alphas, every module it changes)\n",
               pos.size() == 1 && lora.empty() ? stdout : stderr);
    return pos.size() == 1 && lora.empty() ? 0 : 2;
  }
  const fs::path dir{std::string(pos[0])};
  try {
    sana::io::require_directory(dir, "sana info");
    int missing = 0;
    auto component = [&](const char* name, const char* config, std::initializer_list<const char*> keys) {
      const fs::path p = dir / name;
      if (!fs::is_directory(p)) {
        std::printf("%s: MISSING\n", name);
        ++missing;
        return;
      }
      std::printf("%s:\n", name);
      if (config) {
        if (!fs::exists(p / config)) {
          std::printf("    %s: MISSING\n", config);
          ++missing;
        } else {
          const auto j = std::string(config) == "scheduler_config.json"
                             ? sana::pipeline::load_scheduler_config(p / config, std::string(name) + "/" + config)
                             : sana::io::JsonConfig::load(p / config, std::string(name) + "/" + config);
          print_keys(j, keys);
        }
      }
      if (std::string(name) != "scheduler" && std::string(name) != "tokenizer" && !weights_summary(p, check)) {
        std::printf("    weights: MISSING (no .safetensors file)\n");
        ++missing;
      }
      if (std::string(name) == "tokenizer" && !fs::exists(p / "tokenizer.model")) {
        std::printf("    tokenizer.model: MISSING\n");
        ++missing;
      }
    };
    if (fs::exists(dir / "model_index.json")) {
      const auto j = sana::io::JsonConfig::load(dir / "model_index.json", "model_index.json");
      std::printf("model_index.json: %s\n", j.contains("_class_name") ? j.json().at("_class_name").dump().c_str() : "?");
    } else {
      std::printf("model_index.json: MISSING\n");
      ++missing;
    }
    component("transformer", "config.json",
              {"_class_name", "num_layers", "num_attention_heads", "attention_head_dim", "caption_channels",
               "sample_size", "in_channels", "qk_norm", "guidance_embeds"});
    component("vae", "config.json",
              {"_class_name", "latent_channels", "decoder_block_out_channels", "decoder_block_types", "scaling_factor"});
    component("text_encoder", "config.json",
              {"model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "head_dim", "vocab_size"});
    component("tokenizer", nullptr, {});
    component("scheduler", "scheduler_config.json",
              {"_class_name", "flow_shift", "shift", "solver_order", "num_train_timesteps"});
    if (missing) {
      std::printf("%d piece(s) missing: this folder cannot run 'sana generate'\n", missing);
      return 1;
    }
    if (check) {  // the configs as the loaders read them: every field honoured or refused
      const auto scheduler_config =
          sana::pipeline::load_scheduler_config(dir / "scheduler" / "scheduler_config.json", "scheduler/scheduler_config.json");
      sana::pipeline::check_scheduler_class(
          sana::pipeline::check_model_index(sana::io::JsonConfig::load(dir / "model_index.json", "model_index.json")),
          scheduler_config);
      sana::pipeline::SchedulerSettings::from_json(scheduler_config);
      sana::dit::TransformerConfig::from_json(
          sana::io::JsonConfig::load(dir / "transformer" / "config.json", "transformer/config.json"));
      sana::dcae::Config::from_json(sana::io::JsonConfig::load(dir / "vae" / "config.json", "vae/config.json"));
      sana::text::Gemma2Config::from_json(
          sana::io::JsonConfig::load(dir / "text_encoder" / "config.json", "text_encoder/config.json"));
      std::printf("check: configs parse, no NaN or Inf in any weight\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sana info: %s\n", e.what());
    return 1;
  }
}

} // namespace sana_cli
