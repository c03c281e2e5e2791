/// @file
/// The sampler settings of a diffusers Sana folder (scheduler/scheduler_config.json): which sampler
/// (DPMSolverMultistepScheduler → flow-dpm, FlowMatchEulerDiscreteScheduler → flow-euler,
/// FlowMatchHeunDiscreteScheduler → flow-heun, UniPCMultistepScheduler in flow mode → flow-unipc, SCMScheduler →
/// scm) and its shift, order and σ_data.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>
#include <algorithm>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/io/json_file.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

namespace detail {
/// A scheduler field we do not implement: accepted only at the value(s) that leave the computation as we do it.
struct FixedField {
  const char* key;
  std::vector<nlohmann::json> allowed;  ///< the first is diffusers' default / Sana's value
  const char* why;
};

/// Every key of `j` must be one we read (`honoured`), one that cannot change the result under Sana's settings
/// (`inert`, with any value), or a `FixedField` at an allowed value; anything else names the file and field.
inline void check_scheduler_fields(const io::JsonConfig& j, const std::string& cls, std::initializer_list<const char*> honoured,
                                   std::initializer_list<const char*> inert, const std::vector<FixedField>& fixed) {
  std::vector<std::string_view> known(honoured.begin(), honoured.end());
  known.insert(known.end(), inert.begin(), inert.end());
  for (const FixedField& f : fixed) known.push_back(f.key);
  j.expect_known_keys(known, cls);
  for (const FixedField& f : fixed) {
    if (!j.contains(f.key)) continue;
    const auto& v = j.json()[f.key];
    const bool ok = std::any_of(f.allowed.begin(), f.allowed.end(), [&](const nlohmann::json& a) { return v == a; });
    check(ok, j.name(), cls, " field '", f.key, "' = ", v.dump(), " is not implemented (", f.why, "; supported: ",
          nlohmann::json(f.allowed).dump(), ")");
  }
}
} // namespace detail

/// The sampler settings read from scheduler/scheduler_config.json. Every field of the three scheduler classes is
/// honoured, inert under Sana's flow sigmas, or refused at a value we do not implement (docs/io.md).
struct SchedulerSettings {
  std::string sampler = "flow-dpm";  ///< "flow-dpm" (DPMSolverMultistepScheduler), "flow-euler", "flow-heun", "flow-unipc", "scm"
  double shift = 3.0;
  int order = 2;
  int num_train_timesteps = 1000;
  double sigma_data = 0.5;  ///< SCM only
  // DPMSolverMultistepScheduler's final-step rules (sampling::FlowDpmSolverConfig).
  bool lower_order_final = true, euler_at_final = false;
  bool final_sigma_min = false;  ///< final_sigmas_type "sigma_min" (else "zero")
  bool heun = false;             ///< solver_type "heun" (else "midpoint")
  double beta_start = 0.0001;    ///< σ_min = sqrt(β_0 / (1 − β_0)) for final_sigmas_type "sigma_min"
  // UniPCMultistepScheduler's (sampling::FlowUniPcConfig; order and lower_order_final above).
  bool unipc_bh1 = false;               ///< solver_type "bh1" (else "bh2")
  std::vector<int> disable_corrector;   ///< steps whose result UniC does not correct

  static SchedulerSettings from_json(const io::JsonConfig& j) {
    SchedulerSettings s;
    const std::string cls = j.get_or<std::string>("_class_name", "DPMSolverMultistepScheduler");
    if (cls == "DPMSolverMultistepScheduler") s.read_dpm(j);
    else if (cls == "FlowMatchEulerDiscreteScheduler") s.read_euler(j);
    else if (cls == "FlowMatchHeunDiscreteScheduler") s.read_heun(j);
    else if (cls == "UniPCMultistepScheduler") s.read_unipc(j);
    else if (cls == "SCMScheduler") s.read_scm(j);
    else fail(j.name(), "unknown scheduler '", cls,
              "' (supported: DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler, "
              "FlowMatchHeunDiscreteScheduler, UniPCMultistepScheduler, SCMScheduler)");
    const std::int64_t train = j.get_or<std::int64_t>("num_train_timesteps", 1000);
    check(std::isfinite(s.shift) && s.shift > 0, j.name(), "the flow shift must be a positive number, got ", s.shift);
    check(train >= 1 && train <= 1000000, j.name(), "num_train_timesteps must be in [1, 1000000], got ", train);
    s.num_train_timesteps = static_cast<int>(train);
    return s;
  }

private:
  void read_dpm(const io::JsonConfig& j) {
    using nlohmann::json;
    sampler = "flow-dpm";
    detail::check_scheduler_fields(
        j, "DPMSolverMultistepScheduler",
        {"num_train_timesteps", "solver_order", "flow_shift", "lower_order_final", "euler_at_final", "final_sigmas_type",
         "beta_start", "solver_type"},
        // With use_flow_sigmas the sigmas come from flow_shift alone: the beta table, its spacing and clipping only
        // feed final_sigmas_type "sigma_min" (beta_start, checked there); thresholding's knobs need thresholding.
        {"beta_end", "beta_schedule", "trained_betas", "lambda_min_clipped", "timestep_spacing", "steps_offset", "dynamic_thresholding_ratio",
         "sample_max_value", "time_shift_type"},
        {{"prediction_type", {"flow_prediction"}, "Sana predicts the flow velocity"},
         {"use_flow_sigmas", {true}, "Sana's schedules are flow sigmas"},
         {"algorithm_type", {"dpmsolver++"}, "only the deterministic DPM-Solver++ data-prediction update"},
         {"thresholding", {false}, "dynamic thresholding"},
         {"variance_type", {nullptr}, "learned variance"},
         {"use_karras_sigmas", {false}, "Karras sigmas"},
         {"use_exponential_sigmas", {false}, "exponential sigmas"},
         {"use_beta_sigmas", {false}, "beta sigmas"},
         {"use_lu_lambdas", {false}, "Lu's lambdas"},
         {"use_dynamic_shifting", {false}, "resolution-dependent shifting"},
         {"rescale_betas_zero_snr", {false}, "zero-SNR betas"}});
    shift = j.get_or<double>("flow_shift", 3.0);
    const std::int64_t o = j.get_or<std::int64_t>("solver_order", 2);
    check(o >= 1 && o <= 3, j.name(), "solver_order must be 1, 2 or 3, got ", o);
    order = static_cast<int>(o);
    lower_order_final = j.get_or<bool>("lower_order_final", true);
    euler_at_final = j.get_or<bool>("euler_at_final", false);
    const std::string final = j.get_or<std::string>("final_sigmas_type", "zero");
    check(final == "zero" || final == "sigma_min", j.name(), "final_sigmas_type '", final, "' is not one of zero, sigma_min");
    final_sigma_min = final == "sigma_min";
    const std::string solver = j.get_or<std::string>("solver_type", "midpoint");
    check(solver == "midpoint" || solver == "heun", j.name(), "solver_type '", solver, "' is not one of midpoint, heun");
    heun = solver == "heun";
    if (final_sigma_min) {  // σ_min comes from the beta table's first entry, which is beta_start only for these
      const std::string schedule = j.get_or<std::string>("beta_schedule", "linear");
      check(schedule == "linear" || schedule == "scaled_linear", j.name(), "final_sigmas_type 'sigma_min' with beta_schedule '",
            schedule, "' is not implemented (linear, scaled_linear)");
      check(!j.contains("trained_betas") || j.json()["trained_betas"].is_null(), j.name(),
            "final_sigmas_type 'sigma_min' with trained_betas is not implemented");
    }
    beta_start = j.get_or<double>("beta_start", 0.0001);
    check(std::isfinite(beta_start) && beta_start > 0 && beta_start < 1, j.name(), "beta_start must be in (0, 1), got ",
          beta_start);
  }

  void read_euler(const io::JsonConfig& j) {
    sampler = "flow-euler";
    detail::check_scheduler_fields(
        j, "FlowMatchEulerDiscreteScheduler", {"num_train_timesteps", "shift"},
        {"base_shift", "max_shift", "base_image_seq_len", "max_image_seq_len", "time_shift_type"},  // dynamic shifting's
        {{"use_dynamic_shifting", {false}, "resolution-dependent shifting"},
         {"invert_sigmas", {false}, "inverted sigmas"},
         {"shift_terminal", {nullptr}, "a stretched terminal sigma"},
         {"use_karras_sigmas", {false}, "Karras sigmas"},
         {"use_exponential_sigmas", {false}, "exponential sigmas"},
         {"use_beta_sigmas", {false}, "beta sigmas"},
         {"stochastic_sampling", {false}, "stochastic sampling"}});
    shift = j.get_or<double>("shift", 3.0);
  }

  void read_heun(const io::JsonConfig& j) {
    sampler = "flow-heun";
    detail::check_scheduler_fields(j, "FlowMatchHeunDiscreteScheduler", {"num_train_timesteps", "shift"}, {}, {});
    shift = j.get_or<double>("shift", 1.0);
  }

  void read_unipc(const io::JsonConfig& j) {
    using nlohmann::json;
    sampler = "flow-unipc";
    detail::check_scheduler_fields(
        j, "UniPCMultistepScheduler",
        {"num_train_timesteps", "solver_order", "flow_shift", "solver_type", "lower_order_final", "disable_corrector"},
        // With use_flow_sigmas the sigmas come from flow_shift alone: the beta table, the timestep spacing and the
        // thresholding knobs do not reach them.
        {"beta_start", "beta_end", "beta_schedule", "trained_betas", "timestep_spacing", "steps_offset",
         "dynamic_thresholding_ratio", "sample_max_value", "time_shift_type", "sigma_min", "sigma_max"},
        {{"use_flow_sigmas", {true}, "Sana's schedules are flow sigmas"},
         {"prediction_type", {"flow_prediction"}, "Sana predicts the flow velocity"},
         {"predict_x0", {true}, "only the data-prediction UniPC"},
         {"final_sigmas_type", {"zero"}, "with flow sigmas 'sigma_min' repeats the last sigma (a zero step)"},
         {"thresholding", {false}, "dynamic thresholding"},
         {"solver_p", {nullptr}, "an external predictor"},
         {"use_karras_sigmas", {false}, "Karras sigmas"},
         {"use_exponential_sigmas", {false}, "exponential sigmas"},
         {"use_beta_sigmas", {false}, "beta sigmas"},
         {"use_dynamic_shifting", {false}, "resolution-dependent shifting"},
         {"shift_terminal", {nullptr}, "a stretched terminal sigma"},
         {"rescale_betas_zero_snr", {false}, "zero-SNR betas"}});
    shift = j.get_or<double>("flow_shift", 1.0);
    const std::int64_t o = j.get_or<std::int64_t>("solver_order", 2);
    check(o >= 1 && o <= 3, j.name(), "solver_order must be 1, 2 or 3, got ", o);
    order = static_cast<int>(o);
    const std::string solver = j.get_or<std::string>("solver_type", "bh2");
    check(solver == "bh1" || solver == "bh2", j.name(), "solver_type '", solver, "' is not one of bh1, bh2");
    unipc_bh1 = solver == "bh1";
    lower_order_final = j.get_or<bool>("lower_order_final", true);
    check(lower_order_final || order == 1, j.name(),
          "lower_order_final = false with solver_order > 1 ends at sigma 0 with an undefined update (NaN in diffusers)");
    if (j.contains("disable_corrector")) {
      const auto& d = j.json()["disable_corrector"];
      check(d.is_array(), j.name(), "'disable_corrector' must be a list of step indices");
      for (const auto& v : d) {
        check(v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() < 100000, j.name(),
              "'disable_corrector' holds ", v.dump(), ", not a step index");
        disable_corrector.push_back(v.get<int>());
      }
    }
  }

  void read_scm(const io::JsonConfig& j) {
    sampler = "scm";
    detail::check_scheduler_fields(j, "SCMScheduler", {"num_train_timesteps", "sigma_data"}, {},
                                   {{"prediction_type", {"trigflow"}, "Sana-Sprint's TrigFlow parameterisation"}});
    sigma_data = j.get_or<double>("sigma_data", 0.5);
    check(std::isfinite(sigma_data) && sigma_data > 0, j.name(), "sigma_data must be > 0, got ", sigma_data);
  }
};

/// Reads a diffusers scheduler config. Python's json writes ±Infinity and NaN (e.g. lambda_min_clipped: -inf),
/// which strict JSON rejects; outside strings they become the strings "-Infinity", "Infinity", "NaN", so a field we
/// read as a number refuses them ("'flow_shift' must be a number, got "Infinity"") and inert fields keep any value.
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
        out += '"';
        out += word;
        out += '"';
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
