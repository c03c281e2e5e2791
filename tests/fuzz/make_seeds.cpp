// Writes a few small valid safetensors files into the directory given as argv[1]: the seed
// corpus for fuzz_safetensors.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sana/io/safetensors_writer.hpp"

namespace {
void save(const std::filesystem::path& dir, const std::string& name, const sana::io::SafetensorsWriter& w) {
  const auto bytes = w.to_bytes();
  std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  using sana::TensorView;
  const std::vector<float> f = {1.f, -2.f, 0.5f, 3.f, 4.f, 5.f};
  const std::vector<sana::f16> h = {sana::f16(1.f), sana::f16(-0.f), sana::f16(65504.f), sana::f16(1e-7f)};
  const std::vector<sana::bf16> b = {sana::bf16(1.f), sana::bf16(3.f)};
  const std::vector<std::int64_t> i = {7, -7};
  const std::vector<std::uint8_t> u = {1, 2, 3};

  sana::io::SafetensorsWriter empty;
  save(dir, "empty.safetensors", empty);

  sana::io::SafetensorsWriter one;
  one.add("w", TensorView<const float, 2>(f.data(), {2, 3}));
  save(dir, "one_f32.safetensors", one);

  sana::io::SafetensorsWriter mixed;
  mixed.add("transformer_blocks.0.attn1.to_q.weight", TensorView<const sana::f16, 2>(h.data(), {2, 2}));
  mixed.add("b", TensorView<const sana::bf16, 1>(b.data(), {2}));
  mixed.add("i", TensorView<const std::int64_t, 1>(i.data(), {2}));
  mixed.add("u", TensorView<const std::uint8_t, 3>(u.data(), {1, 3, 1}));
  mixed.add("z", TensorView<const float, 2>(nullptr, {0, 4}));
  mixed.add("s", TensorView<const float, 0>(f.data(), {}));
  mixed.set_metadata("format", "pt");
  save(dir, "mixed.safetensors", mixed);

  sana::io::SafetensorsWriter meta;
  meta.set_metadata("a", "b");
  meta.add("x", TensorView<const float, 4>(f.data(), {1, 1, 2, 3}));
  save(dir, "meta_rank4.safetensors", meta);
  return 0;
}
