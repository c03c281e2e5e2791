// The backends this test build compiled, and one shared context per backend.
#pragma once

#include <tuple>

#include "sana/bench/backends.hpp"
#include "sana/core/tensor.hpp"

namespace sana::test {

/// Backends compared against the reference backend by the parity tests: every compiled one (the reference
/// against itself checks the harness and the op wrappers).
using ParityBackends = bench::CompiledBackends;

using FloatTypes = std::tuple<float, bf16, f16>;

using bench::backend_available;

template <class B>
context_t<B>& test_context() {
  return bench::shared_context<B>();
}

} // namespace sana::test

/// Skips the rest of a test when the backend is not runnable here (Catch2 2 has no SKIP).
#define SANA_REQUIRE_BACKEND(B)                                                                \
  do {                                                                                         \
    if (!::sana::test::backend_available<B>()) {                                               \
      WARN("skipping: backend '" << ::sana::backend_traits<B>::name << "' has no device here"); \
      return;                                                                                  \
    }                                                                                          \
  } while (0)

namespace sana::test {

/// One (backend, element type) pair of the parity matrix.
template <class B, class T>
struct Combo {
  using backend = B;
  using type = T;
};

namespace detail {
template <class B, class Ts> struct with_backend;
template <class B, class... Ts> struct with_backend<B, std::tuple<Ts...>> { using type = std::tuple<Combo<B, Ts>...>; };
template <class Bs, class Ts> struct product;
template <class... Bs, class Ts> struct product<std::tuple<Bs...>, Ts> {
  using type = decltype(std::tuple_cat(std::declval<typename with_backend<Bs, Ts>::type>()...));
};
} // namespace detail

/// Every compiled backend × {f32, bf16, f16}.
using ParityMatrix = typename detail::product<ParityBackends, FloatTypes>::type;

/// Runs `op(ctx, device views...)` on backend B and returns the result on the host.
template <class B, class T, std::size_t R>
Tensor<T, R, reference_backend> roundtrip(const Tensor<T, R, B>& t) {
  return to_host<B>(test_context<B>(), t.view());
}

} // namespace sana::test
