// SchedulerSettings::from_json: every field of the three scheduler classes is honoured, inert under flow sigmas,
// or refused naming the file and the field — never silently ignored (issue 15 class 9).
#include <catch2/catch.hpp>

#include <string>

#include "sana/pipeline/scheduler_config.hpp"

using sana::pipeline::SchedulerSettings;
using Catch::Contains;

namespace {
// Sana's hub DPMSolverMultistepScheduler config, as diffusers 0.42 writes it, with one field replaced.
std::string dpm(const std::string& key = "", const std::string& value = "") {
  std::string base = R"({"_class_name": "DPMSolverMultistepScheduler", "_diffusers_version": "0.42.1",
    "algorithm_type": "dpmsolver++", "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001,
    "dynamic_thresholding_ratio": 0.995, "euler_at_final": false, "final_sigmas_type": "zero", "flow_shift": 3.0,
    "lambda_min_clipped": -Infinity, "lower_order_final": true, "num_train_timesteps": 1000,
    "prediction_type": "flow_prediction", "rescale_betas_zero_snr": false, "sample_max_value": 1.0, "solver_order": 2,
    "solver_type": "midpoint", "steps_offset": 0, "thresholding": false, "time_shift_type": "exponential",
    "timestep_spacing": "linspace", "trained_betas": null, "use_beta_sigmas": false, "use_dynamic_shifting": false,
    "use_exponential_sigmas": false, "use_flow_sigmas": true, "use_karras_sigmas": false, "use_lu_lambdas": false,
    "variance_type": null})";
  if (key.empty()) return base;
  const auto at = base.find("\"" + key + "\": ");
  if (at == std::string::npos) return base.substr(0, base.size() - 1) + ", \"" + key + "\": " + value + "}";
  const auto start = at + key.size() + 4, end = base.find_first_of(",}", start);
  return base.substr(0, start) + value + base.substr(end);
}
SchedulerSettings read(const std::string& text) {
  return SchedulerSettings::from_json(sana::pipeline::parse_scheduler_config(text, "scheduler_config.json"));
}
} // namespace

TEST_CASE("scheduler config: Sana's DPM-Solver config and the fields we honour", "[unit][scheduler]") {
  const auto s = read(dpm());
  CHECK(s.sampler == "flow-dpm");
  CHECK(s.shift == 3.0);
  CHECK(s.order == 2);
  CHECK(s.lower_order_final);
  CHECK_FALSE(s.euler_at_final);
  CHECK_FALSE(s.final_sigma_min);
  CHECK(read(dpm("final_sigmas_type", "\"sigma_min\"")).final_sigma_min);
  CHECK(read(dpm("euler_at_final", "true")).euler_at_final);
  CHECK(read(dpm("solver_type", "\"heun\"")).heun);
  CHECK_FALSE(s.heun);
  CHECK_FALSE(read(dpm("lower_order_final", "false")).lower_order_final);
  CHECK(read(dpm("beta_end", "0.5")).shift == 3.0);  // inert under flow sigmas
}

TEST_CASE("scheduler config: fields we do not implement are refused by name", "[unit][scheduler][negative]") {
  auto refused = [](const std::string& text, const char* part) {
    CHECK_THROWS_WITH(read(text), Contains("[scheduler_config.json]") && Contains(part));
  };
  refused(dpm("solver_type", "\"bh2\""), "solver_type 'bh2' is not one of midpoint, heun");
  refused(dpm("algorithm_type", "\"sde-dpmsolver++\""), "'algorithm_type'");
  refused(dpm("prediction_type", "\"epsilon\""), "'prediction_type' = \"epsilon\"");
  refused(dpm("use_karras_sigmas", "true"), "'use_karras_sigmas'");
  refused(dpm("use_flow_sigmas", "false"), "'use_flow_sigmas'");
  refused(dpm("thresholding", "true"), "'thresholding'");
  refused(dpm("final_sigmas_type", "\"denoise_to_zero\""), "final_sigmas_type 'denoise_to_zero'");
  refused(dpm("mystery_knob", "1"), "field 'mystery_knob' is not one this version of sana-cpp knows");
  refused(dpm("flow_shift", "Infinity"), "'flow_shift' must be a number, got \"Infinity\"");
  refused(dpm("flow_shift", "NaN"), "'flow_shift' must be a number, got \"NaN\"");
  refused(dpm("flow_shift", "-1"), "the flow shift must be a positive number");
  refused(R"({"_class_name": "MysteryScheduler"})", "unknown scheduler 'MysteryScheduler'");
  refused(R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0, "stochastic_sampling": true})",
          "'stochastic_sampling'");
  refused(R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 3.0, "use_dynamic_shifting": true})",
          "'use_dynamic_shifting'");
  refused(R"({"_class_name": "SCMScheduler", "prediction_type": "v_prediction"})", "'prediction_type'");
  refused(dpm("final_sigmas_type", "\"sigma_min\"").replace(dpm().find("\"linear\""), 8, "\"squaredcos_cap_v2\""),
          "beta_schedule 'squaredcos_cap_v2'");
  CHECK(read(R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 2.0, "base_shift": 0.7})").shift == 2.0);
}

TEST_CASE("scheduler config: FlowMatchHeunDiscreteScheduler and UniPCMultistepScheduler in flow mode", "[unit][scheduler]") {
  const auto heun = read(R"({"_class_name": "FlowMatchHeunDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0})");
  CHECK(heun.sampler == "flow-heun");
  CHECK(heun.shift == 3.0);
  // diffusers' UniPC config for a flow model (as Wan / Sana users save it).
  const std::string unipc = R"({"_class_name": "UniPCMultistepScheduler", "beta_end": 0.02, "beta_schedule": "linear",
    "beta_start": 0.0001, "disable_corrector": [], "dynamic_thresholding_ratio": 0.995, "final_sigmas_type": "zero",
    "flow_shift": 3.0, "lower_order_final": true, "num_train_timesteps": 1000, "predict_x0": true,
    "prediction_type": "flow_prediction", "rescale_betas_zero_snr": false, "sample_max_value": 1.0,
    "solver_order": 2, "solver_p": null, "solver_type": "bh2", "steps_offset": 0, "thresholding": false,
    "timestep_spacing": "linspace", "trained_betas": null, "use_beta_sigmas": false, "use_exponential_sigmas": false,
    "use_flow_sigmas": true, "use_karras_sigmas": false})";
  const auto u = read(unipc);
  CHECK(u.sampler == "flow-unipc");
  CHECK(u.shift == 3.0);
  CHECK(u.order == 2);
  CHECK_FALSE(u.unipc_bh1);
  auto with = [&](const std::string& key, const std::string& value) {
    const auto at = unipc.find("\"" + key + "\": ");
    const auto start = at + key.size() + 4, end = unipc.find_first_of(",}", start);
    return unipc.substr(0, start) + value + unipc.substr(end);
  };
  CHECK(read(with("solver_type", "\"bh1\"")).unipc_bh1);
  CHECK(read(with("disable_corrector", "[0, 3]")).disable_corrector == std::vector<int>{0, 3});
  auto refused = [&](const std::string& text, const char* part) {
    CHECK_THROWS_WITH(read(text), Contains("[scheduler_config.json]") && Contains(part));
  };
  refused(with("use_flow_sigmas", "false"), "'use_flow_sigmas'");
  refused(with("prediction_type", "\"epsilon\""), "'prediction_type'");
  refused(with("predict_x0", "false"), "'predict_x0'");
  refused(with("final_sigmas_type", "\"sigma_min\""), "'final_sigmas_type'");
  refused(with("solver_type", "\"bh3\""), "solver_type 'bh3'");
  refused(with("lower_order_final", "false"), "lower_order_final = false");
  refused(with("disable_corrector", "[\"a\"]"), "'disable_corrector'");
  refused(R"({"_class_name": "FlowMatchHeunDiscreteScheduler", "shift": 3.0, "s_churn": 1.0})", "'s_churn'");
}
