#include <catch2/catch.hpp>

#include "sana/core/workspace.hpp"
#include "sana/backend/reference/context.hpp"

using namespace sana;

namespace {
// A model-like call: nested scopes with a few activations each.
void fake_forward(Workspace<reference_backend>& ws, std::int64_t tokens) {
  auto outer = ws.scope();
  auto x = ws.allocate<float, 2>({tokens, 64});                          // (N, C)
  x(0, 0) = 1.0f;
  for (int block = 0; block < 3; ++block) {
    auto inner = ws.scope();
    auto h = ws.allocate<float, 2>({tokens, 160});                       // (N, F)
    auto y = ws.allocate<float, 2>({tokens, 64});                        // (N, C)
    h(tokens - 1, 159) = 2.0f;
    y(0, 0) = h(tokens - 1, 159);
  }
}
} // namespace

TEST_CASE("workspace sizes itself on the first call and never allocates again", "[unit][workspace]") {
  Workspace<reference_backend> ws;
  fake_forward(ws, 100);
  ws.reset();
  const auto after_first = ws.allocation_count();
  REQUIRE(ws.capacity() >= ws.high_water());
  for (int i = 0; i < 5; ++i) {
    fake_forward(ws, 100);
    ws.reset();
  }
  REQUIRE(ws.allocation_count() == after_first);
  fake_forward(ws, 50);  // smaller calls fit too
  ws.reset();
  REQUIRE(ws.allocation_count() == after_first);
}

TEST_CASE("workspace scopes release in stack order and allocations are aligned", "[unit][workspace]") {
  Workspace<reference_backend> ws(1 << 20);
  const auto count = ws.allocation_count();
  {
    auto s = ws.scope();
    auto a = ws.allocate<float, 1>({3});
    auto b = ws.allocate<float, 1>({5});
    REQUIRE(reinterpret_cast<std::uintptr_t>(a.data()) % Workspace<reference_backend>::alignment == 0);
    REQUIRE(reinterpret_cast<std::uintptr_t>(b.data()) % Workspace<reference_backend>::alignment == 0);
    REQUIRE(b.data() != a.data());
  }
  {
    auto s = ws.scope();
    auto c = ws.allocate<float, 1>({3});
    REQUIRE(c.data() != nullptr);
  }
  ws.reset();
  REQUIRE(ws.allocation_count() == count);
  REQUIRE_THROWS_WITH((ws.allocate<float, 1>({-2})), Catch::Contains("[workspace]"));
}
