// `sana schedule`: prints the timesteps and sigmas a sampler uses, as JSON, for people checking
// their own implementations against ours (and, through the fixtures, diffusers').
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "commands.hpp"
#include "flags.hpp"
#include "sana/core/error.hpp"
#include "sana/sampling.hpp"

namespace ss = sana::sampling;

namespace sana_cli {
namespace {

constexpr const char* help_text = R"(usage: sana schedule [flags]

Prints a sampler's schedule as JSON: {"sampler", "steps", ..., "timesteps", "sigmas"}.
timesteps are what the model is given at each step; sigmas has one more entry (the final one).
For scm, "timesteps" are diffusers' TrigFlow angles (N+1), "sigmas" the flow times τ given to
the model followed by 0.

flags:
  --sampler NAME         flow-dpm (default), flow-euler, flow-heun, flow-unipc or scm (flow-heun and
                         flow-unipc list one timestep and sigma per model evaluation)
  --steps N              number of steps, 1..100000 (default: 20, 28 for flow-euler, 2 for scm)
  --shift S              flow shift > 0 (default 3; every sampler but scm)
  --order K              flow-dpm solver order 1, 2 or 3 (default 2)
  --grid NAME            flow-dpm time grid: diffusers (default) or nvlabs
  --final-sigma NAME     flow-dpm final sigma: zero (default) or sigma-min
  --euler-at-final       flow-dpm: first-order last step
  --no-lower-order-final flow-dpm: keep the full order on the last steps
  --max-angle A          scm first angle (default 1.5708)
  --intermediate-angle A scm middle angle of the 2-step schedule (default 1.3)
  --help                 this text
)";

/// A usage error: one line on stderr, exit code 2.
double parse_double(std::string_view flag, std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v))
    throw UsageError{std::string(flag) + " expects a finite number, got '" + s + "'"};
  return v;
}

int parse_int(std::string_view flag, std::string_view text, int lo, int hi) {
  int v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size())
    throw UsageError{std::string(flag) + " expects an integer, got '" + std::string(text) + "'"};
  if (v < lo || v > hi)
    throw UsageError{std::string(flag) + " must be in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got " + std::to_string(v)};
  return v;
}

void print_floats(std::span<const float> values) {
  std::printf("[");
  for (std::size_t k = 0; k < values.size(); ++k)
    std::printf("%s%.9g", k ? ", " : "", static_cast<double>(values[k]));
  std::printf("]");
}

void print_doubles_as_int(std::span<const double> values) {
  std::printf("[");
  for (std::size_t k = 0; k < values.size(); ++k)
    std::printf("%s%lld", k ? ", " : "", static_cast<long long>(values[k]));
  std::printf("]");
}

struct Options {
  std::string sampler = "flow-dpm";
  std::optional<int> steps;
  double shift = 3.0;
  ss::FlowDpmSolverConfig dpm;
  ss::ScmConfig scm;
  bool shift_given = false, dpm_flags = false, scm_flags = false;
};

Options parse(std::span<const std::string_view> args) {
  Options o;
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string_view flag = args[k];
    auto value = [&]() -> std::string_view {
      if (k + 1 >= args.size()) throw UsageError{std::string(flag) + " needs a value"};
      return args[++k];
    };
    if (flag == "--sampler") {
      o.sampler = std::string(value());
      if (o.sampler != "flow-dpm" && o.sampler != "flow-euler" && o.sampler != "flow-heun" &&
          o.sampler != "flow-unipc" && o.sampler != "scm")
        throw UsageError{"unknown sampler '" + o.sampler + "' (flow-dpm, flow-euler, flow-heun, flow-unipc or scm)"};
    } else if (flag == "--steps") {
      o.steps = parse_int(flag, value(), 1, 100000);
    } else if (flag == "--shift") {
      o.shift = parse_double(flag, value());
      if (!(o.shift > 0)) throw UsageError{"--shift must be > 0, got " + std::to_string(o.shift)};
      o.shift_given = true;
    } else if (flag == "--order") {
      o.dpm.order = parse_int(flag, value(), 1, 3);
      o.dpm_flags = true;
    } else if (flag == "--grid") {
      const std::string_view g = value();
      if (g == "diffusers") o.dpm.grid = ss::TimeGrid::diffusers;
      else if (g == "nvlabs") o.dpm.grid = ss::TimeGrid::nvlabs;
      else throw UsageError{"--grid must be diffusers or nvlabs, got '" + std::string(g) + "'"};
      o.dpm_flags = true;
    } else if (flag == "--final-sigma") {
      const std::string_view f = value();
      if (f == "zero") o.dpm.final_sigma = ss::FinalSigma::zero;
      else if (f == "sigma-min") o.dpm.final_sigma = ss::FinalSigma::sigma_min;
      else throw UsageError{"--final-sigma must be zero or sigma-min, got '" + std::string(f) + "'"};
      o.dpm_flags = true;
    } else if (flag == "--euler-at-final") {
      o.dpm.euler_at_final = true;
      o.dpm_flags = true;
    } else if (flag == "--no-lower-order-final") {
      o.dpm.lower_order_final = false;
      o.dpm_flags = true;
    } else if (flag == "--max-angle") {
      o.scm.max_angle = parse_double(flag, value());
      o.scm_flags = true;
    } else if (flag == "--intermediate-angle") {
      o.scm.intermediate_angle = parse_double(flag, value());
      o.scm_flags = true;
    } else {
      throw UsageError{"unknown flag '" + std::string(flag) + "' (see sana schedule --help)"};
    }
  }
  if (o.dpm_flags && o.sampler != "flow-dpm")
    throw UsageError{"--order/--grid/--final-sigma/--euler-at-final/--no-lower-order-final only "
                     "apply to --sampler flow-dpm"};
  if (o.scm_flags && o.sampler != "scm")
    throw UsageError{"--max-angle/--intermediate-angle only apply to --sampler scm"};
  if (o.shift_given && o.sampler == "scm") throw UsageError{"--shift does not apply to scm"};
  return o;
}

void print_schedule(const Options& o) {
  if (o.sampler == "flow-dpm") {
    ss::FlowDpmSolverConfig cfg = o.dpm;
    cfg.shift = o.shift;
    ss::FlowDpmSolver s(cfg);
    s.set_timesteps(o.steps.value_or(20));
    std::printf("{\"sampler\": \"flow-dpm\", \"steps\": %d, \"shift\": %.9g, \"order\": %d, "
                "\"grid\": \"%s\",\n \"step_orders\": [",
                s.num_steps(), o.shift, cfg.order,
                cfg.grid == ss::TimeGrid::diffusers ? "diffusers" : "nvlabs");
    for (int i = 0; i < s.num_steps(); ++i) std::printf("%s%d", i ? ", " : "", s.step_order(i));
    std::printf("],\n \"timesteps\": ");
    if (cfg.grid == ss::TimeGrid::diffusers) {
      print_doubles_as_int(s.timesteps());
    } else {
      std::printf("[");
      for (std::size_t k = 0; k < s.timesteps().size(); ++k)
        std::printf("%s%.9g", k ? ", " : "", s.timesteps()[k]);
      std::printf("]");
    }
    std::printf(",\n \"sigmas\": ");
    print_floats(s.sigmas());
  } else if (o.sampler == "flow-euler") {
    ss::FlowEuler s({.shift = o.shift});
    s.set_timesteps(o.steps.value_or(28));
    std::printf("{\"sampler\": \"flow-euler\", \"steps\": %d, \"shift\": %.9g,\n \"timesteps\": ",
                s.num_steps(), o.shift);
    print_floats(s.timesteps());
    std::printf(",\n \"sigmas\": ");
    print_floats(s.sigmas());
  } else if (o.sampler == "flow-heun" || o.sampler == "flow-unipc") {
    auto print = [&](const auto& s) {  // one entry per model evaluation (Heun: two per step but the last)
      std::printf("{\"sampler\": \"%s\", \"steps\": %d, \"shift\": %.9g, \"evaluations\": %d,\n \"timesteps\": ",
                  o.sampler.c_str(), s.num_steps(), o.shift, ss::num_evaluations(s));
      std::vector<float> t, sig;
      for (int i = 0; i < s.num_steps(); ++i)
        for (int k = 0; k < s.num_stages(i); ++k) {
          t.push_back(static_cast<float>(s.record(i, k).model_time));
          sig.push_back(static_cast<float>(s.record(i, k).sigma));
        }
      print_floats(t);
      std::printf(",\n \"sigmas\": ");
      sig.push_back(0.0f);
      print_floats(sig);
    };
    if (o.sampler == "flow-heun") {
      ss::FlowHeun s({.shift = o.shift});
      s.set_timesteps(o.steps.value_or(20));
      print(s);
    } else {
      ss::FlowUniPc s({.shift = o.shift});
      s.set_timesteps(o.steps.value_or(20));
      print(s);
    }
  } else {
    ss::ScmSolver s(o.scm);
    s.set_timesteps(o.steps.value_or(2));
    std::printf("{\"sampler\": \"scm\", \"steps\": %d,\n \"timesteps\": ", s.num_steps());
    print_floats(s.angles());
    std::vector<float> tau;
    for (int i = 0; i < s.num_steps(); ++i) tau.push_back(static_cast<float>(s.model_time(i)));
    tau.push_back(0.0f);
    std::printf(",\n \"sigmas\": ");
    print_floats(tau);
  }
  std::printf("}\n");
}

} // namespace

int cmd_schedule(std::span<const std::string_view> args) {
  for (auto a : args)
    if (a == "--help" || a == "-h") {
      std::fputs(help_text, stdout);
      return 0;
    }
  try {
    print_schedule(parse(args));
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "sana schedule: %s\n", e.message.c_str());
    return 2;
  } catch (const sana::error& e) {
    std::fprintf(stderr, "sana schedule: %s\n", e.what());
    return 2;
  }
}

} // namespace sana_cli
