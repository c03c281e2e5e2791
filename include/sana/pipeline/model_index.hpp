/// @file
/// `pipeline::check_model_index`: the checks on a diffusers folder's model_index.json. diffusers instantiates each
/// component from the [library, class] pair written there, so a class we do not load, an extra component we would
/// drop, or a scheduler class that disagrees with scheduler_config.json is refused, naming the entry.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "sana/core/error.hpp"
#include "sana/io/json_file.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

/// One component entry of model_index.json and the classes our loader for it reads.
struct ModelIndexComponent {
  std::string_view key;
  std::vector<std::string_view> classes;
};

/// The components a Sana folder has and the diffusers / transformers classes each may name.
inline const std::array<ModelIndexComponent, 5>& model_index_components() {
  static const std::array<ModelIndexComponent, 5> components{{
      {"transformer", {"SanaTransformer2DModel"}},
      {"vae", {"AutoencoderDC"}},
      {"text_encoder", {"Gemma2Model", "Gemma2ForCausalLM"}},
      {"tokenizer", {"GemmaTokenizer", "GemmaTokenizerFast"}},
      {"scheduler", {"DPMSolverMultistepScheduler", "FlowMatchEulerDiscreteScheduler", "FlowMatchHeunDiscreteScheduler",
                     "UniPCMultistepScheduler", "SCMScheduler"}},
  }};
  return components;
}

/// Checks model_index.json (`index`) and returns the scheduler class it names ("" when the entry is absent).
/// Entries: `_`-prefixed metadata is skipped; a component we do not load is accepted only as [null, null]
/// (diffusers' "not present"); each known component must be a [library, class] pair naming a class we read.
inline std::string check_model_index(const io::JsonConfig& index) {
  index.expect_class({"SanaPipeline", "SanaPAGPipeline", "SanaSprintPipeline", "SanaSprintImg2ImgPipeline"});
  std::string scheduler_class;
  for (const auto& item : index.json().items()) {
    const std::string& key = item.key();
    if (key.starts_with("_")) continue;
    const auto& v = item.value();
    const ModelIndexComponent* known = nullptr;
    for (const auto& c : model_index_components()) known = c.key == key ? &c : known;
    const bool pair = v.is_array() && v.size() == 2;
    if (!known) {
      check(pair && v[0].is_null() && v[1].is_null(), index.name(), "component '", key, "' = ", v.dump(),
            " is not one a Sana pipeline loads (transformer, vae, text_encoder, tokenizer, scheduler); it would be "
            "ignored, so it is refused");
      continue;
    }
    check(pair && v[0].is_string() && v[1].is_string(), index.name(), "component '", key,
          "' must be a [library, class] pair of strings, got ", v.dump());
    const std::string cls = v[1].get<std::string>();
    std::string names;
    bool ok = false;
    for (auto c : known->classes) {
      ok = ok || cls == c;
      names += (names.empty() ? "" : ", ") + std::string(c);
    }
    check(ok, index.name(), "component '", key, "' names class '", cls, "', not one this loader reads (", names, ")");
    if (key == "scheduler") scheduler_class = cls;
  }
  return scheduler_class;
}

/// diffusers builds the scheduler model_index.json names from scheduler_config.json's fields; we read the class
/// from scheduler_config.json, so the two must agree.
inline void check_scheduler_class(const std::string& index_class, const io::JsonConfig& scheduler_config) {
  if (index_class.empty()) return;
  const auto cls = scheduler_config.get_or<std::string>("_class_name", index_class);
  check(cls == index_class, scheduler_config.name(), "_class_name '", cls, "' differs from the scheduler model_index.json names ('",
        index_class, "'); make them agree");
}

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
