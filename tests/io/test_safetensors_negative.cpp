// Crafted hostile safetensors files: every defect must be a sana::error naming the file, the
// tensor where there is one, and the defect.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <span>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "sana/io/safetensors.hpp"
#include "sana/io/weights_check.hpp"

using sana_test::craft;
using sana_test::TempDir;
using namespace std::string_literals;

namespace {

struct BadFile {
  const char* id;           // file name stem, also the case name
  std::string header;       // JSON text (may hold any bytes)
  std::size_t data_bytes;   // size of the data section
  std::int64_t length = -1; // header length field override
  std::vector<std::string> parts;  // expected in the message besides "[<id>.safetensors]"
};

std::vector<BadFile> bad_files() {
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  std::string ones65 = "1";  // a shape of 65 ones: one element, one dimension too many
  for (int i = 1; i < 65; ++i) ones65 += ",1";
  return {
      // A valid file cut short inside its header.
      {"truncated", ok.substr(0, 12), 0, static_cast<std::int64_t>(ok.size()),
       {"header length 57 reaches beyond the end of the 20-byte file"}},
      {"header_too_big", ok, 16, 100'000'001, {"header length 100000001 exceeds the limit"}},
      {"header_beyond_file", ok, 16, 4096, {"header length 4096 reaches beyond the end"}},
      {"header_empty", "", 0, 0, {"header must start with '{'"}},
      {"not_json", R"({"w": nope})", 0, -1, {"header is not valid JSON"}},
      {"not_object", R"([1, 2, 3])", 0, -1, {"header must start with '{'"}},
      {"trailing_garbage", ok + "x", 16, -1, {"header is not valid JSON"}},
      {"entry_not_object", R"({"w": 5})", 0, -1, {"tensor 'w'", "entry must be an object, got a number"}},
      {"missing_dtype", R"({"w":{"shape":[2],"data_offsets":[0,8]}})", 8, -1, {"tensor 'w'", "missing 'dtype'"}},
      {"missing_offsets", R"({"w":{"dtype":"F32","shape":[2]}})", 0, -1, {"tensor 'w'", "missing 'data_offsets'"}},
      {"unknown_dtype", R"({"w":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", 8, -1,
       {"tensor 'w'", "unknown dtype 'F12'"}},
      {"dtype_not_string", R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8, -1,
       {"tensor 'w'", "dtype must be a string"}},
      {"unexpected_field", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"stride":[1]}})", 8, -1,
       {"tensor 'w'", "unexpected field 'stride'"}},
      {"duplicate_field", R"({"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8, -1,
       {"tensor 'w'", "duplicate field 'dtype'"}},
      {"shape_not_array", R"({"w":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})", 16, -1,
       {"tensor 'w'", "shape must be an array of integers, got a number"}},
      {"shape_nested", R"({"w":{"dtype":"F32","shape":[[4]],"data_offsets":[0,16]}})", 16, -1,
       {"tensor 'w'", "shape must hold non-negative integers, got an array"}},
      {"negative_dim", R"({"w":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}})", 16, -1,
       {"tensor 'w'", "negative dimension -2"}},
      {"fractional_dim", R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,16]}})", 16, -1,
       {"tensor 'w'", "shape dimension 2.5 is not an integer"}},
      {"dim_beyond_int64", R"({"w":{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,0]}})", 0, -1,
       {"tensor 'w'", "does not fit in int64"}},
      {"rank_too_big", R"({"w":{"dtype":"U8","shape":[)" + ones65 + R"(],"data_offsets":[0,1]}})", 1, -1,
       {"tensor 'w'", "shape has more than 64 dimensions"}},
      {"numel_overflow", R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0, -1,
       {"tensor 'w'", "(4294967296, 4294967296) has more than 2^63 elements"}},
      {"bytes_overflow", R"({"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0, -1,
       {"tensor 'w'", "x F64 overflows the byte count"}},
      {"partial_byte", R"({"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2, -1,
       {"tensor 'w'", "is not a whole number of bytes"}},
      {"offsets_one_value", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", 8, -1,
       {"tensor 'w'", "data_offsets must be [begin, end], got 1 value"}},
      {"offsets_three_values", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})", 8, -1,
       {"tensor 'w'", "got more than 2 values"}},
      {"offsets_not_ints", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", 8, -1,
       {"tensor 'w'", "data_offsets must hold non-negative integers, got a string"}},
      {"offsets_negative", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8, -1,
       {"tensor 'w'", "negative value -8"}},
      {"begin_after_end", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[16,8]}})", 16, -1,
       {"tensor 'w'", "data_offsets [16, 8) begin after their end"}},
      {"beyond_data", R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 12, -1,
       {"tensor 'w'", "reach beyond the data section of 12 bytes"}},
      {"size_mismatch",
       R"({"transformer_blocks.0.attn1.to_q.weight":{"dtype":"F16","shape":[8,8],"data_offsets":[0,100]}})", 100, -1,
       {"tensor 'transformer_blocks.0.attn1.to_q.weight'",
        "data_offsets [0, 100) hold 100 bytes but shape (8, 8) x F16 needs 128"}},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
       24, -1, {"tensor 'b' [8, 24) overlaps tensor 'a' [0, 16)"}},
      {"same_range",
       R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
       16, -1, {"overlaps tensor"}},
      {"gap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
       20, -1, {"bytes [8, 12) of the data section belong to no tensor", "tensor 'b'"}},
      {"trailing_bytes", ok, 20, -1, {"bytes [16, 20) at the end of the data section belong to no tensor"}},
      {"duplicate_key",
       R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
       16, -1, {"duplicate tensor name 'w'"}},
      {"metadata_not_object", R"({"__metadata__":"x"})", 0, -1, {"__metadata__ must be an object of string to string"}},
      {"metadata_not_strings", R"({"__metadata__":{"format":1}})", 0, -1,
       {"__metadata__ value for key 'format' must be a string, got a number"}},
      {"metadata_duplicate_key", R"({"__metadata__":{"a":"1","a":"2"}})", 0, -1, {"__metadata__ has duplicate key 'a'"}},
      {"metadata_twice", R"({"__metadata__":{},"__metadata__":{}})", 0, -1, {"duplicate key '__metadata__'"}},
      {"invalid_utf8", "{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
       {"header is not valid JSON", "UTF-8"}},
      {"raw_nul", "{\"w\":{\"dtype\":\"F32\",\0\"shape\":[2],\"data_offsets\":[0,8]}}"s, 8, -1,
       {"header is not valid JSON"}},
      {"escaped_nul_name", R"({"w\u0000x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8, -1,
       {"tensor name 'w\\x00x' contains a NUL character"}},
      {"deep_nesting", "{\"w\":{\"dtype\":\"F32\",\"shape\":" + std::string(10000, '[') , 0, -1,
       {"tensor 'w'", "shape must hold non-negative integers, got an array"}},
  };
}

} // namespace

TEST_CASE("hostile safetensors files are rejected with a precise sana::error", "[io][safetensors][negative]") {
  TempDir dir;
  const auto cases = bad_files();
  REQUIRE(cases.size() >= 40);
  for (const BadFile& c : cases) {
    DYNAMIC_SECTION(c.id) {
      const std::string file = std::string(c.id) + ".safetensors";
      sana_test::write_file(dir / file, craft(c.header, c.data_bytes, c.length));
      const std::string msg = sana_test::error_message([&] { (void)sana::io::SafetensorsFile::open(dir / file); });
      sana_test::check_contains(msg, {"[" + file + "] "});
      for (const std::string& p : c.parts) sana_test::check_contains(msg, {p});
      // The same bytes from memory give the same verdict (that is the fuzzer's path).
      const auto bytes = craft(c.header, c.data_bytes, c.length);
      CHECK(sana_test::error_message([&] { (void)sana::io::parse_safetensors(bytes, file); }) == msg);
    }
  }
}

TEST_CASE("files shorter than the length field, and empty files", "[io][safetensors][negative]") {
  TempDir dir;
  sana_test::write_file(dir / "five.safetensors", sana_test::as_bytes("abcde"));
  SANA_REQUIRE_ERROR(sana::io::SafetensorsFile::open(dir / "five.safetensors"), "[five.safetensors]",
                     "file is 5 bytes, too short");
  sana_test::write_file(dir / "empty.safetensors", {});
  SANA_REQUIRE_ERROR(sana::io::SafetensorsFile::open(dir / "empty.safetensors"), "[empty.safetensors]",
                     "file is 0 bytes");
  SANA_REQUIRE_ERROR(sana::io::SafetensorsFile::open(dir / "absent.safetensors"), "[absent.safetensors]",
                     "does not exist");
  SANA_REQUIRE_ERROR(sana::io::SafetensorsFile::open(dir.path), "is a directory");
  // A FIFO must be refused, not block the reader forever.
  REQUIRE(::mkfifo((dir / "fifo.safetensors").c_str(), 0600) == 0);
  SANA_REQUIRE_ERROR(sana::io::SafetensorsFile::open(dir / "fifo.safetensors"), "[fifo.safetensors]",
                     "is a FIFO (named pipe), not a regular file");
}

TEST_CASE("requests that do not match the stored tensor", "[io][safetensors][negative]") {
  TempDir dir;
  // Odd header length (9 + 1 trailing space would be even; pick one that leaves data misaligned).
  std::string h = R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"i":{"dtype":"I64","shape":[1],"data_offsets":[4,12]},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[12,36]}})";
  if (h.size() % 2 == 0) h += ' ';  // the data section starts at an odd address
  sana_test::write_file(dir / "m.safetensors", craft(h, 36));
  const auto f = sana::io::SafetensorsFile::open(dir / "m.safetensors");

  SANA_REQUIRE_ERROR(f.at("nope"), "[m.safetensors]", "tensor 'nope' not found");
  SANA_REQUIRE_ERROR((f.load<float, 2>("w", {3, 2})), "[m.safetensors]", "tensor 'w' has shape (2, 3) but (3, 2) was expected");
  SANA_REQUIRE_ERROR((f.load<float, 3>("w")), "[m.safetensors]", "tensor 'w' has rank 2", "rank 3 was expected");
  SANA_REQUIRE_ERROR((f.view<float, 1>("h", {2})), "[m.safetensors]", "tensor 'h' is stored as F16 but a zero-copy f32 view");
  SANA_REQUIRE_ERROR((f.load<float, 1>("i", {1})), "[m.safetensors]", "tensor 'i' is stored as I64 and cannot be loaded as f32");
  SANA_REQUIRE_ERROR((f.load<std::int32_t, 1>("i", {1})), "tensor 'i' is stored as I64 and cannot be loaded as i32");
  SANA_REQUIRE_ERROR((f.view<float, 2>("w", {2, 3})), "[m.safetensors]", "tensor 'w' at data offset 12 is not aligned");
  std::vector<float> small(5);
  SANA_REQUIRE_ERROR((f.load("w", sana::TensorView<float, 2>(small.data(), {5, 1}))), "tensor 'w' has shape (2, 3) but (5, 1)");

  // The misaligned tensor still loads through the copying path.
  auto w = f.borrow_or_load<float, 2>("w", {2, 3});
  CHECK_FALSE(w.zero_copy());
  CHECK(w.view.shape() == sana::Shape<2>{2, 3});
}

TEST_CASE("count_nonfinite finds NaN and Inf by bit pattern in every float dtype", "[io][negative]") {
  using sana::io::StoredDType;
  auto entry = [](StoredDType d, const std::vector<std::uint8_t>& raw) {
    sana::io::TensorEntry t;
    t.dtype = d;
    t.bytes = std::as_bytes(std::span(raw));
    return t;
  };
  // F32 1.0, NaN, -Inf, max finite
  const std::vector<std::uint8_t> f32{0, 0, 0x80, 0x3F, 0, 0, 0xC0, 0x7F, 0, 0, 0x80, 0xFF, 0xFF, 0xFF, 0x7F, 0x7F};
  CHECK(sana::io::count_nonfinite(entry(StoredDType::F32, f32)) == 2);
  const std::vector<std::uint8_t> f16{0x00, 0x3C, 0x00, 0x7C, 0xFF, 0x7B};  // 1, +Inf, 65504
  CHECK(sana::io::count_nonfinite(entry(StoredDType::F16, f16)) == 1);
  const std::vector<std::uint8_t> bf16{0x80, 0x3F, 0xC0, 0x7F, 0x80, 0xFF};  // 1, NaN, -Inf
  CHECK(sana::io::count_nonfinite(entry(StoredDType::BF16, bf16)) == 2);
  const std::vector<std::uint8_t> e4m3{0x7E, 0x7F, 0xFF, 0x78};  // 448, NaN, NaN, 256 (E4M3 has no Inf)
  CHECK(sana::io::count_nonfinite(entry(StoredDType::F8_E4M3, e4m3)) == 2);
  const std::vector<std::uint8_t> i32{0xFF, 0xFF, 0xFF, 0xFF};
  CHECK(sana::io::count_nonfinite(entry(StoredDType::I32, i32)) == 0);
}
