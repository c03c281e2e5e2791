/// @file
/// The `Sampler` concept: what the driver (`sample`) and `SanaPipeline::generate` need from a
/// sampler — the built-ins (FlowDpmSolver, FlowEuler, FlowHeun, FlowUniPc, ScmSolver) or your own
/// (docs/sampling.md, examples/custom_sampler). A sampler is a schedule plus a `step` that updates
/// latent-sized buffers through a linear-combination callable; it never touches tensors itself.
#pragma once

#include <concepts>
#include <span>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/sampling/lincomb.hpp"
#include "sana/sampling/step_buffers.hpp"
#include "sana/sampling/step_record.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

namespace detail {
/// The check every sampler's per-step accessors make.
inline void check_step_index(const char* sampler, int steps, int i) {
  check(steps > 0, sampler, "call set_timesteps before stepping");
  check(i >= 0 && i < steps, sampler, "step index ", i, " out of range [0, ", steps, ")");
}
} // namespace detail

/// A sampler:
/// - `num_steps()`, and for step i `num_stages(i)` model evaluations, each described by
///   `record(i, stage)` (σ, model timestep, input scale);
/// - `history_size()` latent buffers it keeps between evaluations, `needs_noise()` for fresh
///   N(0, I) noise once per step;
/// - `step(record, buffers, lincomb)` after each evaluation: reads `buffers.velocity` (the guided
///   model output for that record) and updates `buffers.x` in place. `step` is checked here with
///   host spans; write it as a template over the buffer and lincomb types to run on any backend.
template <class S>
concept Sampler = requires(const S& s, int i, const StepRecord& r, const StepBuffers<std::span<float>>& b,
                           SpanLincomb& f) {
  { s.num_steps() } -> std::convertible_to<int>;
  { s.num_stages(i) } -> std::convertible_to<int>;
  { s.record(i, i) } -> std::same_as<StepRecord>;
  { s.history_size() } -> std::convertible_to<int>;
  { s.needs_noise() } -> std::convertible_to<bool>;
  s.step(r, b, f);
};

/// A sampler whose schedule is set from a step count (diffusers' `set_timesteps(N)`): the
/// pipeline sets it from the request; other samplers run the schedule they were given.
template <class S>
concept SchedulableSampler = Sampler<S> && requires(S& s, int n) { s.set_timesteps(n); };

/// For samplers that evaluate the model once per step at the state (or a scaled copy of it):
/// the derived class provides `sigma_at(i)`, `model_time(i)`, `model_input_scale(i)`,
/// `step(const StepRecord&, buffers, lincomb)` and `using SingleEvaluation::step;`, and gets
/// `num_stages`, `record` and a `step(i, buffers, lincomb)` shorthand.
template <class Derived>
class SingleEvaluation {
public:
  int num_stages(int) const { return 1; }
  StepRecord record(int i, int stage) const {
    const Derived& self = static_cast<const Derived&>(*this);
    check(stage == 0, Derived::name, "stage ", stage, " out of range [0, 1) at step ", i);
    return {i, 0, 1, self.sigma_at(i), self.model_time(i), self.model_input_scale(i)};
  }
  /// Step i alone (tests and hand-written loops).
  template <class Buffer, class LincombFn>
  void step(int i, const StepBuffers<Buffer>& buffers, LincombFn&& lincomb) const {
    const Derived& self = static_cast<const Derived&>(*this);
    self.step(record(i, 0), buffers, lincomb);
  }
};

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
