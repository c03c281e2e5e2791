/// @file
/// Reading a LoRA for the Sana transformer from safetensors, model-independently:
///   - diffusers / PEFT, as `SanaPipeline.save_lora_weights` writes it: `transformer.<module>.lora_A.weight`,
///     `.lora_B.weight` (and `.lora_B.bias` with lora_bias), rank and alpha from the `lora_adapter_metadata` JSON in
///     the file's `__metadata__` when present;
///   - PEFT's `save_pretrained` folder: `base_model.model.<module>.lora_A.weight` with `adapter_config.json` beside;
///   - kohya-ss names: `lora_unet_<module with '_'>.lora_down.weight`, `.lora_up.weight`, `.alpha` (also the
///     `lora_transformer_` prefix), mapped onto Sana's module names.
/// Without alpha from any of these, alpha = rank (scale 1), diffusers' rule. Every error names the file and key.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/io/json_file.hpp"
#include "sana/io/safetensors.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dit {

/// One module's low-rank update: ΔW = scaling() · up (out, r) · down (r, in·kh·kw), Δb = scaling() · up_bias.
struct LoraLayer {
  std::string module;                               ///< diffusers module path, "transformer_blocks.0.attn1.to_q"
  std::string key;                                  ///< the file's key of `down`, for messages
  std::vector<std::int64_t> down_shape, up_shape;   ///< (r, in[, kh, kw]) and (out, r[, 1, 1]) as stored
  std::vector<float> down, up, up_bias;             ///< row-major; up_bias (out) or empty
  std::int64_t rank = 0;
  double alpha = 0;
  bool rslora = false;  ///< PEFT use_rslora: alpha / sqrt(rank)
  double scaling() const { return rslora ? alpha / std::sqrt(double(rank)) : alpha / double(rank); }
};

/// A parsed LoRA file.
struct LoraFile {
  std::string name;          ///< the path, for messages
  std::string format;        ///< "diffusers", "peft" or "kohya"
  std::string alpha_source;  ///< "lora_adapter_metadata", "adapter_config.json", "alpha tensors" or "none (alpha = rank)"
  std::vector<LoraLayer> layers;  ///< sorted by module
};

namespace detail {

/// What one tensor of a LoRA file is.
enum class LoraRole { down, up, up_bias, alpha };
struct LoraKey {
  std::string module;
  LoraRole role;
  bool kohya = false;
};

/// Sana's module names a kohya-ss key can name (block modules relative to "transformer_blocks.N.").
inline std::optional<std::string> kohya_module(const std::string& underscored) {
  static constexpr std::string_view block[] = {"attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0",
                                               "attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0",
                                               "ff.conv_inverted", "ff.conv_depth", "ff.conv_point"};
  static constexpr std::string_view top[] = {
      "patch_embed.proj", "time_embed.linear", "time_embed.emb.timestep_embedder.linear_1",
      "time_embed.emb.timestep_embedder.linear_2", "time_embed.timestep_embedder.linear_1",
      "time_embed.timestep_embedder.linear_2", "time_embed.guidance_embedder.linear_1",
      "time_embed.guidance_embedder.linear_2", "caption_projection.linear_1", "caption_projection.linear_2", "proj_out"};
  auto flat = [](std::string_view s) {
    std::string o(s);
    std::replace(o.begin(), o.end(), '.', '_');
    return o;
  };
  const std::string bp = "transformer_blocks_";
  if (underscored.starts_with(bp)) {
    std::size_t i = bp.size();
    while (i < underscored.size() && std::isdigit(static_cast<unsigned char>(underscored[i]))) ++i;
    if (i == bp.size() || i >= underscored.size() || underscored[i] != '_') return std::nullopt;
    const std::string index = underscored.substr(bp.size(), i - bp.size()), rest = underscored.substr(i + 1);
    for (auto m : block)
      if (flat(m) == rest) return "transformer_blocks." + index + "." + std::string(m);
    return std::nullopt;
  }
  for (auto m : top)
    if (flat(m) == underscored) return std::string(m);
  return std::nullopt;
}

/// Classifies one tensor name; fails naming the key for anything that is not a transformer LoRA tensor.
inline LoraKey parse_lora_key(const std::string& key, const std::string& where) {
  check(key.find("lora_magnitude_vector") == std::string::npos && key.find("dora_scale") == std::string::npos, where,
        "key '", key, "' is a DoRA magnitude; DoRA LoRAs are not supported");
  check(!key.starts_with("text_encoder") && !key.starts_with("lora_te") && !key.starts_with("te."), where, "key '", key,
        "' belongs to a text-encoder LoRA; only the transformer takes LoRAs");
  check(key.find("lora_embedding_") == std::string::npos, where, "key '", key,
        "' is an embedding LoRA, which no Sana layer takes");
  for (std::string_view p : {"lora_unet_", "lora_transformer_"}) {
    if (!key.starts_with(p)) continue;
    const std::size_t dot = key.find('.', p.size());
    const std::string name = key.substr(p.size(), dot - p.size()), suffix = dot == std::string::npos ? "" : key.substr(dot);
    const auto module = kohya_module(name);
    check(module.has_value(), where, "kohya key '", key, "' names no Sana transformer layer (a LoRA for another model?)");
    if (suffix == ".lora_down.weight") return {*module, LoraRole::down, true};
    if (suffix == ".lora_up.weight") return {*module, LoraRole::up, true};
    if (suffix == ".alpha") return {*module, LoraRole::alpha, true};
    fail(where, "kohya key '", key, "' is not .lora_down.weight, .lora_up.weight or .alpha");
  }
  std::string m = key;
  for (std::string_view p : {"transformer.", "base_model.model."})
    if (m.starts_with(p)) m = m.substr(p.size());
  struct Suffix { std::string_view text; LoraRole role; };
  static constexpr Suffix suffixes[] = {{".lora_A.weight", LoraRole::down}, {".lora_B.weight", LoraRole::up},
                                        {".lora_B.bias", LoraRole::up_bias}, {".lora.down.weight", LoraRole::down},
                                        {".lora.up.weight", LoraRole::up},   {".alpha", LoraRole::alpha}};
  for (const auto& s : suffixes)
    if (m.size() > s.text.size() && m.ends_with(s.text)) return {m.substr(0, m.size() - s.text.size()), s.role};
  fail(where, "key '", key,
       "' is not a LoRA tensor (expected transformer.<module>.lora_A.weight / .lora_B.weight, or kohya-ss "
       "lora_unet_<module>.lora_down.weight / .lora_up.weight / .alpha)");
}

/// rank / alpha as a PEFT LoraConfig gives them for one module.
struct LoraConfigValues {
  std::optional<std::int64_t> r;
  std::optional<double> alpha;
  std::vector<std::pair<std::string, std::int64_t>> rank_pattern;
  std::vector<std::pair<std::string, double>> alpha_pattern;
  bool rslora = false;
};

/// PEFT's get_pattern_key: the first pattern p (in key order) with `(.*\.)?(p)$` matching the module.
template <class V>
const V* match_pattern(const std::vector<std::pair<std::string, V>>& patterns, const std::string& module,
                       const std::string& where) {
  for (const auto& [p, v] : patterns) {
    try {
      if (std::regex_match(module, std::regex("(.*\\.)?(" + p + ")"))) return &v;
    } catch (const std::regex_error&) {
      fail(where, "pattern '", p, "' is not a valid regular expression");
    }
  }
  return nullptr;
}

/// Is `v` the value a field takes when it is not used (null, false, "", 0, {}, [])?
inline bool json_unset(const nlohmann::json& v) {
  return v.is_null() || (v.is_boolean() && !v.get<bool>()) || ((v.is_object() || v.is_array()) && v.empty()) ||
         (v.is_string() && v.get<std::string>().empty());
}

/// Reads a PEFT LoraConfig object: honours r, lora_alpha, rank_pattern, alpha_pattern, use_rslora; skips fields
/// that only steer training or initialisation; refuses any other field set to a non-default value.
inline LoraConfigValues parse_lora_config(const nlohmann::json& obj, const std::string& where) {
  static constexpr std::string_view training_only[] = {
      "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern", "lora_dropout", "init_lora_weights",
      "inference_mode", "base_model_name_or_path", "revision", "task_type", "auto_mapping", "peft_version",
      "loftq_config", "eva_config", "corda_config", "lora_ga_config", "kasa_config", "arrow_config",
      "monteclora_config", "megatron_config", "megatron_core", "qalora_group_size", "ensure_weight_tying", "lora_bias"};
  LoraConfigValues c;
  for (const auto& [k, v] : obj.items()) {
    try {
      if (k == "r") c.r = v.get<std::int64_t>();
      else if (k == "lora_alpha") c.alpha = v.get<double>();
      else if (k == "use_rslora") c.rslora = v.get<bool>();
      else if (k == "rank_pattern") for (const auto& [p, r] : v.items()) c.rank_pattern.emplace_back(p, r.get<std::int64_t>());
      else if (k == "alpha_pattern") for (const auto& [p, a] : v.items()) c.alpha_pattern.emplace_back(p, a.get<double>());
      else if (k == "peft_type") check(v.get<std::string>() == "LORA", where, "peft_type is ", v.dump(), ", not LORA");
      else if (k == "bias") check(v.get<std::string>() == "none", where, "bias ", v.dump(), " (trained base biases) is not supported");
      else if (std::find(std::begin(training_only), std::end(training_only), k) != std::end(training_only)) continue;
      else check(json_unset(v), where, "field '", k, "' = ", v.dump(), " is not supported; it would be ignored, so it is refused");
    } catch (const nlohmann::json::exception&) {
      fail(where, "field '", k, "' has the wrong type: ", v.dump());
    }
  }
  check(!c.r || *c.r > 0, where, "r must be positive, got ", c.r.value_or(0));
  return c;
}

/// The LoraConfig that comes with the file: diffusers' `lora_adapter_metadata` (transformer.-prefixed keys) or
/// PEFT's adapter_config.json beside it; nullopt when neither exists.
inline std::optional<LoraConfigValues> lora_config_of(const io::SafetensorsFile& f, const std::filesystem::path& path,
                                                      std::string& source) {
  if (const std::string* meta = f.metadata_value("lora_adapter_metadata")) {
    const std::string where = f.name() + " metadata 'lora_adapter_metadata'";
    const nlohmann::json all = io::parse_json(*meta, where);
    check(all.is_object(), where, "must be a JSON object");
    nlohmann::json mine = nlohmann::json::object();
    for (const auto& [k, v] : all.items())
      if (k.starts_with("transformer.")) mine[k.substr(12)] = v;
    source = "lora_adapter_metadata";
    return parse_lora_config(mine, where);
  }
  const auto cfg = path.parent_path() / "adapter_config.json";
  if (!std::filesystem::exists(cfg)) return std::nullopt;
  source = "adapter_config.json";
  const auto j = io::JsonConfig::load(cfg);
  return parse_lora_config(j.json(), j.name());
}

/// A tensor as floats, with its shape.
inline std::vector<float> lora_floats(const io::SafetensorsFile& f, const io::TensorEntry& e) {
  std::vector<float> v(static_cast<std::size_t>(e.numel));
  io::copy_elements(f.name(), e, v.data());
  return v;
}

/// Checks one module's factors and fills rank (and alpha from the config, when there is one).
inline void finish_lora_layer(LoraLayer& l, const std::optional<LoraConfigValues>& cfg, const std::string& where) {
  check(!l.down_shape.empty() && !l.up_shape.empty(), where, "module '", l.module, "' needs both ",
        l.down_shape.empty() ? "lora_A (lora_down)" : "lora_B (lora_up)", " tensors");
  auto dims = [](const std::vector<std::int64_t>& s) {
    std::string o = "(";
    for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
    return o + ")";
  };
  const bool down_ok = l.down_shape.size() == 2 || l.down_shape.size() == 4;
  const bool up_ok = l.up_shape.size() == 2 || (l.up_shape.size() == 4 && l.up_shape[2] == 1 && l.up_shape[3] == 1);
  check(down_ok && up_ok && l.down_shape[0] == l.up_shape[1] && l.down_shape[0] > 0, where, "module '", l.module,
        "': lora_A ", dims(l.down_shape), " and lora_B ", dims(l.up_shape),
        " are not a rank-r pair (r, in[, kh, kw]) and (out, r[, 1, 1])");
  l.rank = l.down_shape[0];
  check(l.up_bias.empty() || static_cast<std::int64_t>(l.up_bias.size()) == l.up_shape[0], where, "module '", l.module,
        "': lora_B bias has ", l.up_bias.size(), " values for ", l.up_shape[0], " outputs");
  if (!cfg) return;
  const std::int64_t* rp = match_pattern(cfg->rank_pattern, l.module, where);
  const std::int64_t r = rp ? *rp : cfg->r.value_or(l.rank);
  check(r == l.rank, where, "module '", l.module, "': the adapter config says rank ", r, " but lora_A has ", l.rank,
        " rows");
  const double* ap = match_pattern(cfg->alpha_pattern, l.module, where);
  if (l.alpha == 0) l.alpha = ap ? *ap : cfg->alpha.value_or(double(l.rank));
  l.rslora = cfg->rslora;
}

} // namespace detail

/// Reads and checks a LoRA file (see the file comment for the formats); the result fits any model — whether it
/// fits a given transformer is checked when it is merged (dit/lora.hpp).
inline LoraFile read_lora_file(const std::filesystem::path& path) {
  LoraFile out;
  out.name = path.string();
  io::SafetensorsFile f;
  try {
    f = io::SafetensorsFile::open(path, out.name);
  } catch (const error& e) {
    fail(out.name, "not a readable safetensors LoRA file: ", e.what());
  }
  check(f.size() > 0, out.name, "holds no tensors");
  std::map<std::string, LoraLayer> layers;
  bool kohya = false, peft = false, alpha_tensors = false;
  for (const auto& e : f.tensors()) {
    const detail::LoraKey k = detail::parse_lora_key(e.name, out.name);
    kohya = kohya || k.kohya;
    peft = peft || e.name.starts_with("base_model.model.");
    LoraLayer& l = layers[k.module];
    l.module = k.module;
    switch (k.role) {
      case detail::LoraRole::down: l.key = e.name; l.down_shape = e.shape; l.down = detail::lora_floats(f, e); break;
      case detail::LoraRole::up: l.up_shape = e.shape; l.up = detail::lora_floats(f, e); break;
      case detail::LoraRole::up_bias: check(e.rank() == 1, out.name, "'", e.name, "' must be 1-D"); l.up_bias = detail::lora_floats(f, e); break;
      case detail::LoraRole::alpha: {
        check(e.numel == 1, out.name, "'", e.name, "' must hold one value, has ", e.numel);
        l.alpha = detail::lora_floats(f, e)[0];
        check(std::isfinite(l.alpha) && l.alpha > 0, out.name, "'", e.name, "' = ", l.alpha, " is not a positive alpha");
        alpha_tensors = true;
        break;
      }
    }
  }
  out.format = kohya ? "kohya" : peft ? "peft" : "diffusers";
  std::string source;
  const auto cfg = kohya ? std::nullopt : detail::lora_config_of(f, path, source);
  out.alpha_source = alpha_tensors ? "alpha tensors" : cfg ? source : "none (alpha = rank)";
  for (auto& [m, l] : layers) {
    detail::finish_lora_layer(l, cfg, out.name);
    if (l.alpha == 0) l.alpha = double(l.rank);
    out.layers.push_back(std::move(l));
  }
  return out;
}

} // namespace dit
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
