/// @file
/// The sampler settings of a diffusers Sana folder (scheduler/scheduler_config.json): which sampler
/// (DPMSolverMultistepScheduler → flow-dpm, FlowMatchEulerDiscreteScheduler → flow-euler, SCMScheduler →
/// scm) and its shift, order and σ_data.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/io/json_file.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

/// The sampler settings read from scheduler/scheduler_config.json.
struct SchedulerSettings {
  std::string sampler = "flow-dpm";  ///< "flow-dpm" (DPMSolverMultistepScheduler), "flow-euler" or "scm"
  double shift = 3.0;
  int order = 2;
  int num_train_timesteps = 1000;
  double sigma_data = 0.5;  ///< SCM only

  static SchedulerSettings from_json(const io::JsonConfig& j) {
    SchedulerSettings s;
    const std::string cls = j.get_or<std::string>("_class_name", "DPMSolverMultistepScheduler");
    if (cls == "DPMSolverMultistepScheduler") s.sampler = "flow-dpm";
    else if (cls == "FlowMatchEulerDiscreteScheduler") s.sampler = "flow-euler";
    else if (cls == "SCMScheduler") s.sampler = "scm";
    else fail(j.name(), "unknown scheduler '", cls,
              "' (supported: DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler, SCMScheduler)");
    if (s.sampler == "scm") {
      const std::string pred = j.get_or<std::string>("prediction_type", "trigflow");
      check(pred == "trigflow", j.name(), "SCMScheduler prediction_type '", pred, "' is not supported (trigflow)");
      s.sigma_data = j.get_or<double>("sigma_data", 0.5);
      check(std::isfinite(s.sigma_data) && s.sigma_data > 0, j.name(), "sigma_data must be > 0, got ", s.sigma_data);
    }
    s.shift = j.get_or<double>(s.sampler == "flow-dpm" ? "flow_shift" : "shift", 3.0);
    const std::int64_t order = j.get_or<std::int64_t>("solver_order", 2);
    const std::int64_t train = j.get_or<std::int64_t>("num_train_timesteps", 1000);
    check(std::isfinite(s.shift) && s.shift > 0, j.name(), "the flow shift must be a positive number, got ", s.shift);
    check(order >= 1 && order <= 3, j.name(), "solver_order must be 1, 2 or 3, got ", order);
    check(train >= 1 && train <= 1000000, j.name(), "num_train_timesteps must be in [1, 1000000], got ", train);
    s.order = static_cast<int>(order);
    s.num_train_timesteps = static_cast<int>(train);
    return s;
  }
};

/// Reads a diffusers scheduler config. Python's json writes ±Infinity and NaN (e.g. lambda_min_clipped: -inf),
/// which strict JSON rejects; outside strings they become null (the sampler reads none of those keys).
inline io::JsonConfig parse_scheduler_config(std::string_view text, const std::string& name) {
  std::string out;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (std::string_view word : {"-Infinity", "Infinity", "NaN"})
      if (text.compare(i, word.size(), word) == 0) {
        out += "null";
        i += word.size() - 1;
        replaced = true;
        break;
      }
    if (!replaced) out += c;
  }
  return io::JsonConfig::parse(out, name);
}

inline io::JsonConfig load_scheduler_config(const std::filesystem::path& path, const std::string& name) {
  return parse_scheduler_config(io::read_file(path, name, io::max_json_bytes), name);
}

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
