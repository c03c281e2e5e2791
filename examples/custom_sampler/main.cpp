// custom_sampler: an own sampler object through SanaPipeline::generate, as diffusers' `pipe.scheduler = ...`.
// The explicit midpoint rule (RK2) on the flow ODE, two model evaluations per step, on Flow-Euler's schedule;
// guidance, callbacks and previews work as with the library's samplers.
//   custom_sampler [model_dir]      writes custom_sampler.png (default: the installed toy model)
#include <array>
#include <cstdio>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/io/png.hpp"
#include "sana/pipeline/sana_pipeline.hpp"

namespace ss = sana::sampling;

/// x_{i+1} = x_i + dt · v(x_i + dt/2 · v(x_i, σ_i), σ_i + dt/2), dt = σ_{i+1} − σ_i. Stage 0 evaluates at x_i and
/// moves x to the midpoint (keeping x_i in a history buffer); stage 1 evaluates there and completes the step.
class Midpoint {
public:
  static constexpr const char* name = "midpoint";
  explicit Midpoint(double shift) : schedule_({.shift = shift}) {}

  void set_timesteps(int steps) { schedule_.set_timesteps(steps); }  // the pipeline passes the request's steps
  int num_steps() const { return schedule_.num_steps(); }
  int num_stages(int) const { return 2; }
  ss::StepRecord record(int i, int stage) const {
    const double s = stage == 0 ? sigma(i) : 0.5 * (sigma(i) + sigma(i + 1));
    return {i, stage, 2, s, 1000.0 * s, 1.0};  // the model is conditioned on 1000·σ, as Flow-Euler's
  }
  int history_size() const { return 1; }
  bool needs_noise() const { return false; }

  template <class Buffer, class Lincomb>
  void step(const ss::StepRecord& r, const ss::StepBuffers<Buffer>& b, Lincomb&& lincomb) const {
    const double dt = sigma(r.index + 1) - sigma(r.index);
    const Buffer& start = b.history[0];
    if (r.stage == 0) {
      ss::combine(lincomb, start, std::array<double, 1>{1.0}, std::array<Buffer, 1>{b.x});
      ss::combine(lincomb, b.x, std::array<double, 2>{1.0, 0.5 * dt}, std::array<Buffer, 2>{b.x, b.velocity});
    } else {
      ss::combine(lincomb, b.x, std::array<double, 2>{1.0, dt}, std::array<Buffer, 2>{start, b.velocity});
    }
  }

private:
  double sigma(int i) const { return schedule_.sigmas()[static_cast<std::size_t>(i)]; }
  ss::FlowEuler schedule_;
};
static_assert(ss::SchedulableSampler<Midpoint>);

int main(int argc, char** argv) {
  using B = sana::onednn_backend;
  try {
    sana::context_t<B> ctx;
    auto pipe = sana::pipeline::SanaPipeline<B, float>::load(ctx, argc > 1 ? argv[1] : SANA_TOY_MODEL_DIR);
    sana::pipeline::GenerateRequest rq;
    rq.prompts = {"a red circle on a blue background"};
    rq.steps = 10;  // 20 model evaluations
    rq.seed = 1;
    rq.resolution_binning = false;
    Midpoint sampler(pipe.scheduler().shift);
    int evaluations = 0;
    const auto image = pipe.generate(ctx, rq, sampler, {[&](int step, int steps) {
                                       std::printf("step %d/%d\n", step + 1, steps);
                                       ++evaluations;
                                       return true;
                                     }});
    sana::io::write_png("custom_sampler.png", image.pixels, image.width, image.height,
                        {{"prompt", rq.prompts[0]}, {"sampler", image.sampler}});
    std::printf("custom_sampler.png: %lldx%lld, sampler %s, %d steps\n", static_cast<long long>(image.width),
                static_cast<long long>(image.height), image.sampler.c_str(), evaluations);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custom_sampler: %s\n", e.what());
    return 1;
  }
  return 0;
}
