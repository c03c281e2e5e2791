// Component folders: a single file or shards with an index, and the index as hostile input.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "sana/io/model_folder.hpp"
#include "sana/io/safetensors_writer.hpp"

using sana_test::TempDir;
namespace io = sana::io;

namespace {
/// Writes a shard holding float tensors named `names`, each of shape (2, 2) filled with `fill`.
void write_shard(const std::filesystem::path& p, const std::vector<std::string>& names, float fill) {
  static std::vector<float> data(4);
  data.assign(4, fill);
  io::SafetensorsWriter w;
  for (const auto& n : names) w.add(n, sana::TensorView<const float, 2>(data.data(), {2, 2}));
  w.write(p);
}

const std::string index_name = "diffusion_pytorch_model.safetensors.index.json";
const std::string shard1 = "diffusion_pytorch_model-00001-of-00002.safetensors";
const std::string shard2 = "diffusion_pytorch_model-00002-of-00002.safetensors";

/// transformer/ with two shards and a matching index.
void make_sharded(const TempDir& d) {
  std::filesystem::create_directory(d / "transformer");
  write_shard(d / "transformer" / shard1, {"a.weight", "b.weight"}, 1.f);
  write_shard(d / "transformer" / shard2, {"c.weight"}, 2.f);
  sana_test::write_text(d / "transformer" / index_name,
                        R"({"metadata":{"total_size":48},"weight_map":{"a.weight":")" + shard1 + R"(","b.weight":")" +
                            shard1 + R"(","c.weight":")" + shard2 + R"("}})");
}
void write_index(const TempDir& d, const std::string& weight_map) {
  sana_test::write_text(d / "transformer" / index_name, R"({"weight_map":)" + weight_map + "}");
}
} // namespace

TEST_CASE("sharded folder: lookups across shards and unused-key tracking", "[io][folder]") {
  TempDir d;
  make_sharded(d);
  sana_test::write_text(d / "transformer" / "config.json", R"({"num_layers": 2})");
  auto m = io::ModelFolder::open(d / "transformer/");
  CHECK(m.name() == "transformer");
  CHECK(m.sharded());
  CHECK(m.size() == 3);
  CHECK(m.files().size() == 2);
  CHECK(m.keys() == std::vector<std::string>{"a.weight", "b.weight", "c.weight"});
  CHECK(m.contains("c.weight"));
  CHECK(m.file_of("c.weight").name() == "transformer/" + shard2);
  CHECK(m.config().get<int>("num_layers") == 2);

  CHECK(m.view<float, 2>("c.weight", {2, 2})(1, 1) == 2.f);
  std::vector<float> dst(4);
  m.load("a.weight", sana::TensorView<float, 2>(dst.data(), {2, 2}));
  CHECK(dst[3] == 1.f);
  CHECK(m.unused_keys() == std::vector<std::string>{"b.weight"});
  SANA_REQUIRE_ERROR(m.expect_all_used(), "[transformer]", "1 unexpected tensor", "'b.weight'");
  SANA_REQUIRE_ERROR(m.at("d.weight"), "[transformer/" + index_name + "]", "tensor 'd.weight' not found");
  SANA_REQUIRE_ERROR((m.load<float, 2>("b.weight", {4, 1})), "[transformer/" + shard1 + "]",
                     "tensor 'b.weight' has shape (2, 2) but (4, 1) was expected");
  m.mark_used("b.weight");
  CHECK_NOTHROW(m.expect_all_used());
}

TEST_CASE("single-file folders and the choice of file", "[io][folder]") {
  TempDir d;
  std::filesystem::create_directory(d / "vae");
  write_shard(d / "vae" / "diffusion_pytorch_model.safetensors", {"x"}, 1.f);
  write_shard(d / "vae" / "diffusion_pytorch_model.fp16.safetensors", {"x"}, 2.f);
  write_shard(d / "vae" / "other.safetensors", {"x"}, 3.f);
  auto plain = io::ModelFolder::open(d / "vae");
  CHECK_FALSE(plain.sharded());
  CHECK(plain.source_name() == "vae/diffusion_pytorch_model.safetensors");
  CHECK(plain.view<float, 2>("x", {2, 2})(0, 0) == 1.f);
  auto fp16 = io::ModelFolder::open(d / "vae", {.variant = "fp16"});
  CHECK(fp16.view<float, 2>("x", {2, 2})(0, 0) == 2.f);

  std::filesystem::create_directory(d / "two");
  write_shard(d / "two" / "a.safetensors", {"x"}, 1.f);
  write_shard(d / "two" / "b.safetensors", {"x"}, 1.f);
  SANA_REQUIRE_ERROR(io::ModelFolder::open(d / "two"), "[two]", "several *.safetensors files and no index",
                     "'a.safetensors', 'b.safetensors'");
  std::filesystem::remove(d / "two" / "b.safetensors");
  CHECK(io::ModelFolder::open(d / "two").source_name() == "two/a.safetensors");

  // Shards may be symlinks, as in the Hugging Face cache.
  std::filesystem::create_directories(d / "blobs");
  std::filesystem::create_directory(d / "linked");
  write_shard(d / "blobs" / "abc123", {"y"}, 4.f);
  std::filesystem::create_symlink("../blobs/abc123", d / "linked" / "model.safetensors");
  CHECK(io::ModelFolder::open(d / "linked").view<float, 2>("y", {2, 2})(1, 0) == 4.f);

  std::filesystem::create_directory(d / "none");
  SANA_REQUIRE_ERROR(io::ModelFolder::open(d / "none"), "[none]", "no *.safetensors file and no index");
  SANA_REQUIRE_ERROR(io::ModelFolder::open(d / "missing"), "[missing]", "does not exist");

  // A bad file inside the folder reports the folder-qualified file name.
  std::filesystem::create_directory(d / "bad");
  sana_test::write_file(d / "bad" / "model.safetensors", sana_test::craft(R"({"w":3})", 0));
  SANA_REQUIRE_ERROR(io::ModelFolder::open(d / "bad"), "[bad/model.safetensors]", "tensor 'w'");
}

TEST_CASE("hostile index files are rejected", "[io][folder][negative]") {
  TempDir d;
  make_sharded(d);
  const std::string idx = "[transformer/" + index_name + "]";
  auto open = [&] { return io::ModelFolder::open(d / "transformer"); };
  REQUIRE_NOTHROW(open());

  SECTION("invalid JSON") {
    sana_test::write_text(d / "transformer" / index_name, "{\"weight_map\": {\n\"a\": }");
    SANA_REQUIRE_ERROR(open(), idx, "invalid JSON", "line 2");
  }
  SECTION("missing weight_map") {
    sana_test::write_text(d / "transformer" / index_name, R"({"metadata":{}})");
    SANA_REQUIRE_ERROR(open(), idx, "missing 'weight_map'");
  }
  SECTION("weight_map not an object") {
    write_index(d, "[1]");
    SANA_REQUIRE_ERROR(open(), idx, "'weight_map' must be an object");
  }
  SECTION("shard name not a string") {
    write_index(d, R"({"a.weight": 1})");
    SANA_REQUIRE_ERROR(open(), idx, "tensor 'a.weight' must map to a file name, got 1");
  }
  SECTION("path traversal") {
    for (const std::string bad : {"../x.safetensors", "sub/x.safetensors", "/etc/passwd", "..", "", "a\\\\b"}) {
      write_index(d, R"({"a.weight": ")" + bad + R"("})");
      SANA_REQUIRE_ERROR(open(), idx, "tensor 'a.weight' maps to shard", "not a plain file name");
    }
  }
  SECTION("shard missing") {
    std::filesystem::remove(d / "transformer" / shard2);
    SANA_REQUIRE_ERROR(open(), idx, "shard '" + shard2 + "' does not exist");
  }
  SECTION("key absent in its shard") {
    write_index(d, R"({"a.weight":")" + shard1 + R"(","b.weight":")" + shard1 + R"(","c.weight":")" + shard1 + R"("})");
    SANA_REQUIRE_ERROR(open(), idx, "tensor 'c.weight' is listed in shard '" + shard1 + "' but that shard does not contain it");
  }
  SECTION("key listed twice") {
    write_index(d, R"({"a.weight":")" + shard1 + R"(","a.weight":")" + shard2 + R"("})");
    SANA_REQUIRE_ERROR(open(), idx, "duplicate key 'a.weight'");
  }
  SECTION("shard tensor missing from the index") {
    write_index(d, R"({"a.weight":")" + shard1 + R"(","c.weight":")" + shard2 + R"("})");
    SANA_REQUIRE_ERROR(open(), "[transformer/" + shard1 + "]", "tensor 'b.weight' is not listed in transformer/" + index_name);
  }
  SECTION("tensor present in two shards") {
    write_shard(d / "transformer" / shard2, {"c.weight", "a.weight"}, 2.f);
    SANA_REQUIRE_ERROR(open(), idx, "tensor 'a.weight' appears in shards '" + shard1 + "' and 'transformer/" + shard2 + "'");
  }
  SECTION("a corrupt shard") {
    sana_test::write_file(d / "transformer" / shard2, sana_test::craft("{", 0));
    SANA_REQUIRE_ERROR(open(), "[transformer/" + shard2 + "]", "header is not valid JSON");
  }
  SECTION("several index files") {
    sana_test::write_text(d / "transformer" / "model.safetensors.index.json", R"({"weight_map":{}})");
    SANA_REQUIRE_ERROR(open(), "[transformer]", "several index files");
  }
}
