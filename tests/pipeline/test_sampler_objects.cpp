// SanaPipeline::generate with sampler objects (the library's and a user's), the stage functions called one by one,
// and multi-evaluation samplers, on the tiny random-weight diffusers folder.
#include <catch2/catch.hpp>

#include <array>
#include <span>
#include <string>
#include <vector>

#include "sana/pipeline/sana_pipeline.hpp"
#include "support/backends.hpp"

using namespace sana;
namespace ss = sana::sampling;

namespace {
const std::string kDir = std::string(SANA_TEST_DATA_DIR) + "/pipeline/tiny_sana";
using Pipe = pipeline::SanaPipeline<reference_backend, float>;

pipeline::GenerateRequest small_request() {
  pipeline::GenerateRequest rq;
  rq.prompts = {"a red fox in the snow"};
  rq.negative_prompt = "blurry";
  rq.height = rq.width = 64;
  rq.steps = 3;
  rq.seed = 7;
  rq.resolution_binning = false;
  return rq;
}

/// A sampler written from scratch against the concept (no library base class): Flow-Euler on a schedule it is
/// given, x ← x + (σ_{i+1} − σ_i)·v.
struct MyEuler {
  static constexpr const char* name = "my-euler";
  std::vector<float> sigmas, timesteps;  // N+1 and N
  int num_steps() const { return static_cast<int>(timesteps.size()); }
  int num_stages(int) const { return 1; }
  ss::StepRecord record(int i, int) const {
    return {i, 0, 1, sigmas[static_cast<std::size_t>(i)], timesteps[static_cast<std::size_t>(i)], 1.0};
  }
  int history_size() const { return 0; }
  bool needs_noise() const { return false; }
  template <class Buffer, class Lincomb>
  void step(const ss::StepRecord& r, const ss::StepBuffers<Buffer>& b, Lincomb&& lincomb) const {
    const auto u = static_cast<std::size_t>(r.index);
    ss::combine(lincomb, b.x, std::array<double, 2>{1.0, static_cast<double>(sigmas[u + 1] - sigmas[u])},
                std::array<Buffer, 2>{b.x, b.velocity});
  }
};
static_assert(ss::Sampler<MyEuler>);
static_assert(!ss::SchedulableSampler<MyEuler>);
static_assert(ss::SchedulableSampler<ss::FlowHeun> && ss::SchedulableSampler<ss::FlowUniPc>);

/// Wraps a sampler and counts the model evaluations the pipeline makes through it.
template <class S>
struct Counting {
  static constexpr const char* name = S::name;
  S inner;
  int* evaluations;
  void set_timesteps(int n) { inner.set_timesteps(n); }
  int num_steps() const { return inner.num_steps(); }
  int num_stages(int i) const { return inner.num_stages(i); }
  ss::StepRecord record(int i, int k) const { return inner.record(i, k); }
  int history_size() const { return inner.history_size(); }
  bool needs_noise() const { return inner.needs_noise(); }
  template <class Buffer, class Lincomb>
  void step(const ss::StepRecord& r, const ss::StepBuffers<Buffer>& b, Lincomb&& lincomb) const {
    ++*evaluations;
    inner.step(r, b, lincomb);
  }
};
} // namespace

TEST_CASE("generate with a sampler object equals generate with its name", "[pipeline]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = Pipe::load(ctx, kDir);
  auto rq = small_request();
  for (const char* name : {"flow-dpm", "flow-euler", "flow-heun", "flow-unipc"}) {
    INFO(name);
    auto named = rq;
    named.sampler = name;
    const auto want = pipe.generate(ctx, named);
    const auto got = pipe.with_sampler(name, 0.0, [&](auto& s) { return pipe.generate(ctx, rq, s); });
    CHECK(got.pixels == want.pixels);
    CHECK(got.sampler == name);
    CHECK(got.shift == want.shift);
  }
}

TEST_CASE("generate runs a user's sampler exactly like the built-in it reimplements", "[pipeline]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = Pipe::load(ctx, kDir);
  auto rq = small_request();
  ss::FlowEuler euler({.shift = pipe.scheduler().shift});
  euler.set_timesteps(rq.steps);
  MyEuler mine{{euler.sigmas().begin(), euler.sigmas().end()}, {euler.timesteps().begin(), euler.timesteps().end()}};
  int calls = 0;
  pipeline::GenerateCallbacks cb;
  cb.on_step = [&](int, int) { return ++calls > 0; };
  const auto got = pipe.generate(ctx, rq, mine, cb);
  auto named = rq;
  named.sampler = "flow-euler";
  const auto want = pipe.generate(ctx, named);
  CHECK(got.pixels == want.pixels);
  CHECK(got.sampler == "my-euler");
  CHECK(calls == rq.steps);
  SECTION("a sampler without set_timesteps runs its own step count; a different request count is refused") {
    rq.steps = 0;
    CHECK(pipe.generate(ctx, rq, mine).steps_run == 3);
    rq.steps = 5;
    CHECK_THROWS_WITH(pipe.generate(ctx, rq, mine), Catch::Contains("the sampler (which has no set_timesteps) holds 3"));
  }
}

TEST_CASE("Heun evaluates the model twice per step through the pipeline, callbacks and early stop per step",
          "[pipeline]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = Pipe::load(ctx, kDir);
  auto rq = small_request();
  int evaluations = 0;
  Counting<ss::FlowHeun> heun{ss::FlowHeun({.shift = 3.0}), &evaluations};
  std::vector<int> steps_seen;
  pipeline::GenerateCallbacks cb;
  cb.on_step = [&](int i, int n) {
    steps_seen.push_back(i);
    return n == 3;
  };
  const auto r = pipe.generate(ctx, rq, heun, cb);
  CHECK(evaluations == 2 * rq.steps - 1);
  CHECK(steps_seen == std::vector<int>{0, 1, 2});
  CHECK(r.steps_run == 3);
  evaluations = 0;
  cb.on_step = [&](int i, int) { return i < 1; };  // stop after step 1
  const auto stopped = pipe.generate(ctx, rq, heun, cb);
  CHECK(stopped.steps_run == 2);
  CHECK(evaluations == 4);
}

TEST_CASE("the stages called one by one give generate's image", "[pipeline]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = Pipe::load(ctx, kDir);
  const auto rq = small_request();
  const auto want = pipe.generate(ctx, rq);
  const pipeline::GeneratePlan p = pipe.plan(rq);
  const auto prompts = pipe.encode_prompts(ctx, rq, p);
  auto x = pipe.prepare_latents(ctx, rq, p);
  ss::FlowDpmSolver dpm({.shift = pipe.scheduler().shift});
  CHECK(pipe.denoise(ctx, rq, p, prompts, x, dpm) == rq.steps);
  const auto got = pipe.decode(ctx, rq, p, x);
  CHECK(got.pixels == want.pixels);
}

TEST_CASE("generate with a sampler object refuses conflicting request fields", "[pipeline][negative]") {
  auto& ctx = sana::test::test_context<reference_backend>();
  auto pipe = Pipe::load(ctx, kDir);
  auto rq = small_request();
  ss::FlowEuler euler;
  rq.sampler = "flow-dpm";
  CHECK_THROWS_WITH(pipe.generate(ctx, rq, euler), Catch::Contains("a sampler object is given"));
  rq.sampler.clear();
  rq.shift = 4.0;
  CHECK_THROWS_WITH(pipe.generate(ctx, rq, euler), Catch::Contains("set it in the sampler's config"));
  rq.shift = 0;
  ss::ScmSolver scm;
  CHECK_THROWS_WITH(pipe.generate(ctx, rq, scm), Catch::Contains("needs a Sana-Sprint transformer"));
  rq.sampler = "ddim";
  CHECK_THROWS_WITH(pipe.generate(ctx, rq), Catch::Contains("unknown sampler 'ddim'"));
}
