// Reading and writing valid safetensors files.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <vector>

#include "io_test_util.hpp"
#include "sana/io/safetensors.hpp"
#include "sana/io/safetensors_writer.hpp"

using sana_test::craft;
using sana_test::TempDir;
namespace io = sana::io;

namespace {
template <class T>
std::vector<T> iota_values(std::size_t n, float scale) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float x = (static_cast<float>(i) - static_cast<float>(n) / 2) * scale;
    if constexpr (sana::FloatElement<T>) v[i] = T(x);
    else v[i] = static_cast<T>(x);
  }
  return v;
}
bool same_bytes(const void* a, const void* b, std::size_t n) { return std::memcmp(a, b, n) == 0; }
} // namespace

TEST_CASE("writer round trip: every writable dtype, metadata, exact bytes", "[io][safetensors]") {
  TempDir dir;
  const auto f32 = iota_values<float>(24, 0.37f);
  const auto f16 = iota_values<sana::f16>(6, 1.5f);
  const auto bf16 = iota_values<sana::bf16>(5, -2.25f);
  const auto i32 = iota_values<std::int32_t>(7, 3.f);
  const auto i64 = iota_values<std::int64_t>(3, 1000.f);
  const auto u8 = std::vector<std::uint8_t>{1, 2, 3};

  io::SafetensorsWriter w;
  w.add("blocks.0.w", sana::TensorView<const float, 3>(f32.data(), {2, 3, 4}));
  w.add("h", sana::TensorView<const sana::f16, 2>(f16.data(), {2, 3}));
  w.add("b", sana::TensorView<const sana::bf16, 1>(bf16.data(), {5}));
  w.add("i32", sana::TensorView<const std::int32_t, 1>(i32.data(), {7}));
  w.add("i64", sana::TensorView<const std::int64_t, 1>(i64.data(), {3}));
  w.add("u8", sana::TensorView<const std::uint8_t, 1>(u8.data(), {3}));
  w.add("empty", sana::TensorView<const float, 2>(nullptr, {0, 5}));
  w.add("scalar", sana::TensorView<const float, 0>(f32.data(), {}));
  w.set_metadata("format", "pt");
  w.set_metadata("note", "quote \" backslash \\ newline \n");
  w.write(dir / "rt.safetensors");

  const auto f = io::SafetensorsFile::open(dir / "rt.safetensors");
  CHECK(f.name() == "rt.safetensors");
  CHECK(f.size() == 8);
  CHECK(f.header_bytes() % 8 == 0);
  REQUIRE(f.metadata_value("format"));
  CHECK(*f.metadata_value("format") == "pt");
  CHECK(*f.metadata_value("note") == "quote \" backslash \\ newline \n");
  CHECK(f.metadata_value("absent") == nullptr);

  const auto a = f.view<float, 3>("blocks.0.w", {2, 3, 4});
  CHECK(same_bytes(a.data(), f32.data(), f32.size() * 4));
  CHECK(same_bytes(f.view<sana::f16, 2>("h", {2, 3}).data(), f16.data(), 12));
  CHECK(same_bytes(f.view<sana::bf16, 1>("b", {5}).data(), bf16.data(), 10));
  CHECK(same_bytes(f.view<std::int32_t, 1>("i32", {7}).data(), i32.data(), 28));
  CHECK(same_bytes(f.view<std::int64_t, 1>("i64", {3}).data(), i64.data(), 24));
  CHECK(same_bytes(f.view<std::uint8_t, 1>("u8", {3}).data(), u8.data(), 3));
  CHECK(f.view<float, 2>("empty", {0, 5}).empty());
  CHECK(f.at("empty").bytes.empty());
  CHECK(f.load<float, 0>("scalar", sana::Shape<0>{}).data()[0] == f32[0]);

  // to_bytes produces the same file as write.
  std::ifstream in(dir / "rt.safetensors", std::ios::binary);
  std::vector<char> disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto mem = w.to_bytes();
  REQUIRE(disk.size() == mem.size());
  CHECK(same_bytes(disk.data(), mem.data(), mem.size()));
}

TEST_CASE("zero-copy views point into the mapping", "[io][safetensors]") {
  TempDir dir;
  std::vector<float> x(64);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  io::SafetensorsWriter w;
  w.add("x", sana::TensorView<const float, 2>(x.data(), {8, 8}));
  w.add("y", sana::TensorView<const float, 1>(x.data(), {3}));
  w.write(dir / "z.safetensors");

  const auto f = io::SafetensorsFile::open(dir / "z.safetensors");
  const auto data = f.data_section();
  const auto v = f.view<float, 2>("x", {8, 8});
  const auto* p = reinterpret_cast<const std::byte*>(v.data());
  CHECK(p == f.at("x").bytes.data());
  CHECK(p >= data.data());
  CHECK(p + v.bytes() <= data.data() + data.size());
  CHECK(v(7, 7) == 63.f);

  auto b = f.borrow_or_load<float, 2>("x", {8, 8});
  CHECK(b.zero_copy());
  CHECK(b.view.data() == v.data());
  auto c = f.borrow_or_load<sana::bf16, 2>("x", {8, 8});  // a different dtype must copy
  CHECK_FALSE(c.zero_copy());
  CHECK(static_cast<float>(c.view(2, 3)) == 19.f);
}

TEST_CASE("f16 and bf16 load into f32 exactly, f32 loads into f16/bf16 with RNE", "[io][safetensors]") {
  // Every f16 and bf16 bit pattern.
  std::vector<sana::f16> h(65536);
  std::vector<sana::bf16> b(65536);
  for (std::uint32_t i = 0; i < 65536; ++i) {
    h[i] = sana::f16::from_bits(static_cast<std::uint16_t>(i));
    b[i] = sana::bf16::from_bits(static_cast<std::uint16_t>(i));
  }
  const std::vector<float> f = {0.f, -0.f, 1.f / 3.f, 65504.f, 65520.f, 1e-8f, 3.4e38f,
                                std::numeric_limits<float>::infinity(), 1.00390625f, 1.01171875f};
  io::SafetensorsWriter w;
  w.add("h", sana::TensorView<const sana::f16, 1>(h.data(), {65536}));
  w.add("b", sana::TensorView<const sana::bf16, 1>(b.data(), {65536}));
  w.add("f", sana::TensorView<const float, 1>(f.data(), {static_cast<std::int64_t>(f.size())}));
  const auto bytes = w.to_bytes();
  const auto file = io::SafetensorsFile::parse(bytes, "mem.safetensors");

  const auto hf = file.load<float, 1>("h", {65536});
  const auto bf = file.load<float, 1>("b", {65536});
  std::size_t bad = 0;
  for (std::uint32_t i = 0; i < 65536; ++i) {
    const float eh = sana::detail::f16_bits_to_float(static_cast<std::uint16_t>(i));
    const float eb = sana::detail::bf16_bits_to_float(static_cast<std::uint16_t>(i));
    // Bitwise comparison: NaN payloads and signed zeros must survive too.
    bad += !same_bytes(&hf.data()[i], &eh, 4);
    bad += !same_bytes(&bf.data()[i], &eb, 4);
  }
  CHECK(bad == 0);

  const auto fh = file.load<sana::f16, 1>("f");
  const auto fb = file.load<sana::bf16, 1>("f");
  for (std::size_t i = 0; i < f.size(); ++i) {
    CHECK(fh.data()[i].bits == sana::f16(f[i]).bits);
    CHECK(fb.data()[i].bits == sana::bf16(f[i]).bits);
  }
  // load into a caller view
  std::vector<float> dst(65536);
  file.load("h", sana::TensorView<float, 1>(dst.data(), {65536}));
  CHECK(same_bytes(dst.data(), hf.data(), dst.size() * 4));
}

TEST_CASE("the parser accepts what the format allows", "[io][safetensors]") {
  // Trailing spaces after the object, other dtypes including packed F4, an empty tensor placed
  // between others, no tensors at all, and metadata only.
  const std::string h =
      R"({"__metadata__":{"k":"v"},"a":{"dtype":"F4","shape":[2,2],"data_offsets":[0,2]},)"
      R"("e":{"dtype":"F64","shape":[3,0],"data_offsets":[2,2]},"z":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[2,5]}}    )";
  const auto bytes = craft(h, 5);
  const auto f = io::SafetensorsFile::parse(bytes, "ok.safetensors");
  REQUIRE(f.size() == 3);
  CHECK(f.at("a").dtype == io::StoredDType::F4);
  CHECK(f.at("a").numel == 4);
  CHECK(f.at("e").numel == 0);
  CHECK(f.at("z").bytes.size() == 3);
  CHECK(f.metadata().size() == 1);

  CHECK(io::SafetensorsFile::parse(craft("{}", 0), "empty.safetensors").size() == 0);
  CHECK(io::SafetensorsFile::parse(craft(R"({"__metadata__":{}})", 0), "m.safetensors").size() == 0);
  for (const auto& d : {"BOOL", "U8", "I8", "F8_E5M2", "F8_E8M0", "I16", "U16", "U32", "C64", "U64", "F6_E2M3"})
    CHECK(io::parse_stored_dtype(d).has_value());
  CHECK_FALSE(io::parse_stored_dtype("f32").has_value());
}

TEST_CASE("writer validates its input and never leaves a partial file", "[io][safetensors][writer]") {
  TempDir dir;
  std::vector<float> x(4096, 1.f);
  io::SafetensorsWriter w;
  w.add("x", sana::TensorView<const float, 1>(x.data(), {4096}));
  SANA_REQUIRE_ERROR(w.add("x", sana::TensorView<const float, 1>(x.data(), {2})), "duplicate tensor name 'x'");
  SANA_REQUIRE_ERROR(w.add("__metadata__", sana::TensorView<const float, 1>(x.data(), {2})), "cannot be a tensor name");
  SANA_REQUIRE_ERROR(w.add("bad\xff", sana::TensorView<const float, 1>(x.data(), {2})), "not valid UTF-8");
  SANA_REQUIRE_ERROR(w.add("strided", sana::TensorView<const float, 2>(x.data(), {2, 2}, {1, 2})), "must be contiguous");
  SANA_REQUIRE_ERROR(w.add_raw("r", io::StoredDType::F32, {3}, std::as_bytes(std::span(x.data(), 2))),
                     "8 bytes do not match shape (3,) x F32");

  SANA_REQUIRE_ERROR(w.write(dir / "no_such_dir" / "x.safetensors"), "cannot write: directory", "does not exist");

  // An existing file is replaced whole.
  sana_test::write_text(dir / "x.safetensors", "old");
  w.write(dir / "x.safetensors");
  CHECK(io::SafetensorsFile::open(dir / "x.safetensors").size() == 1);

  // A write that fails half way (file size limit) leaves the old file and no temporary file.
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  rlimit small = old;
  small.rlim_cur = 1024;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::string msg = sana_test::error_message([&] { w.write(dir / "y.safetensors"); });
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
  sana_test::check_contains(msg, {"y.safetensors", "writing"});
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path)) ++files;
  CHECK(files == 1);  // only x.safetensors
  CHECK_FALSE(std::filesystem::exists(dir / "y.safetensors"));
}
