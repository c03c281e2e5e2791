/// @file
/// Google Benchmark helpers (link benchmark::benchmark): rate counters that are per second of real time,
/// and registration of one benchmark per compiled backend. Google Benchmark's rate counters divide by the
/// main thread's CPU time unless the benchmark uses real time, which would overstate a multi-threaded or GPU
/// op's rate; everything registered here uses real time.
#pragma once

#include <string>
#include <utility>

#include <benchmark/benchmark.h>

#include "sana/bench/backends.hpp"
#include "sana/bench/cost.hpp"
#include "sana/core/config.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace bench {

/// GFLOP/s and GB/s counters for `cost` per iteration (rates over the benchmark's time, real time here).
inline void set_rates(benchmark::State& state, const OpCost& cost) {
  state.counters["GFLOP/s"] = benchmark::Counter(cost.flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(cost.bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// Registers "<name>/<backend>" for every compiled backend, in real time. `fn(tag, state, ctx)` runs the op in
/// `for (auto _ : state)` — synchronising the backend inside the loop — and returns one iteration's cost; a
/// backend with no device here is skipped with a message. Returns nothing: add arguments with `configure`,
/// called on each registered benchmark (`[](benchmark::internal::Benchmark* b) { b->Arg(256); }`).
template <class Fn, class Configure>
void register_on_backends(const std::string& name, Fn fn, Configure configure) {
  for_each_backend([&](auto tag) {
    using B = decltype(tag);
    auto* b = benchmark::RegisterBenchmark((name + "/" + std::string(backend_traits<B>::name)).c_str(),
                                           [fn](benchmark::State& state) {
                                             if (!backend_available<B>()) {
                                               state.SkipWithError("no device for this backend here");
                                               return;
                                             }
                                             set_rates(state, fn(B{}, state, shared_context<B>()));
                                           });
    b->UseRealTime();
    configure(b);
  });
}
template <class Fn>
void register_on_backends(const std::string& name, Fn fn) {
  register_on_backends(name, std::move(fn), [](benchmark::internal::Benchmark*) {});
}

} // namespace bench
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
