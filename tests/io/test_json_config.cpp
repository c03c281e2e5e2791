// config.json parsing: typed getters and errors naming the file, the key and the position.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "sana/io/json_file.hpp"

namespace io = sana::io;

TEST_CASE("typed getters with defaults", "[io][json]") {
  const auto c = io::JsonConfig::parse(R"({
    "num_layers": 28, "cross_attention_dim": 2240, "norm_eps": 1e-6, "scale": 1, "use_pe": false,
    "act": "silu", "block_out_channels": [128, 256, 512], "sample_size": null,
    "vae": {"latent_channels": 32}, "big": 4294967296
  })", "transformer/config.json");
  CHECK(c.get<int>("num_layers") == 28);
  CHECK(c.get<std::int64_t>("big") == 4294967296);
  CHECK(c.get<double>("norm_eps") == 1e-6);
  CHECK(c.get<float>("scale") == 1.f);  // integers are numbers too
  CHECK_FALSE(c.get<bool>("use_pe"));
  CHECK(c.get<std::string>("act") == "silu");
  CHECK(c.get<std::vector<int>>("block_out_channels") == std::vector<int>{128, 256, 512});
  CHECK(c.get_or<int>("sample_size", 32) == 32);  // null takes the default
  CHECK(c.get_or<int>("absent", 7) == 7);
  CHECK_FALSE(c.get_optional<int>("sample_size").has_value());
  CHECK(c.object("vae").get<int>("latent_channels") == 32);
  CHECK(c.contains("act"));
}

TEST_CASE("config errors name the file, key and defect", "[io][json][negative]") {
  const std::string where = "[transformer/config.json]";
  const auto c = io::JsonConfig::parse(
      R"({"num_layers": "28", "heads": 2.5, "flag": 1, "name": 3, "big": 4294967296, "list": [1, "x"], "vae": 3})",
      "transformer/config.json");
  SANA_REQUIRE_ERROR(c.get<int>("num_layers"), where + " 'num_layers' must be an integer, got \"28\"");
  SANA_REQUIRE_ERROR(c.get<int>("heads"), where, "'heads' must be an integer, got 2.5");
  SANA_REQUIRE_ERROR(c.get<bool>("flag"), where, "'flag' must be a boolean, got 1");
  SANA_REQUIRE_ERROR(c.get<std::string>("name"), where, "'name' must be a string, got 3");
  SANA_REQUIRE_ERROR(c.get<int>("big"), where, "'big' = 4294967296 does not fit in [-2147483648, 2147483647]");
  SANA_REQUIRE_ERROR(c.get<std::vector<int>>("list"), where, "'list[1]' must be an integer, got \"x\"");
  SANA_REQUIRE_ERROR(c.get<int>("absent"), where, "missing required key 'absent'");
  SANA_REQUIRE_ERROR(c.get_or<int>("num_layers", 1), where, "'num_layers' must be an integer");  // defaults don't hide type errors
  SANA_REQUIRE_ERROR(c.object("vae"), where, "'vae' must be an object, got 3");

  SANA_REQUIRE_ERROR(io::JsonConfig::parse(R"({"shift": 1e999})", "c.json"), "[c.json] invalid JSON");  // number overflow
  const auto n = io::JsonConfig::parse(R"({"vae": {"ch": "x"}})", "c.json");
  SANA_REQUIRE_ERROR(n.object("vae").get<int>("ch"), "[c.json] 'vae.ch' must be an integer");

  SANA_REQUIRE_ERROR(io::JsonConfig::parse("{\n  \"a\": 1,\n  \"b\": }", "bad.json"), "[bad.json] invalid JSON",
                     "line 3, column 8");
  SANA_REQUIRE_ERROR(io::JsonConfig::parse(R"({"a": 1, "a": 2})", "dup.json"), "[dup.json] duplicate key 'a'");
  SANA_REQUIRE_ERROR(io::JsonConfig::parse(R"({"x": {"a": 1, "a": 2}})", "dup2.json"), "duplicate key 'a'");
  CHECK_NOTHROW(io::JsonConfig::parse(R"({"x": {"a": 1}, "y": {"a": 2}})", "ok.json"));  // same key, other object
  SANA_REQUIRE_ERROR(io::JsonConfig::parse("[1]", "arr.json"), "[arr.json] top level must be a JSON object, got an array");
  SANA_REQUIRE_ERROR(io::JsonConfig::parse(std::string(100, '[') + std::string(100, ']'), "deep.json"),
                     "[deep.json] JSON nesting deeper than 64");
  SANA_REQUIRE_ERROR(io::JsonConfig::parse("{\"a\": \"\xff\"}", "utf.json"), "[utf.json] invalid JSON");

  sana_test::TempDir d;
  SANA_REQUIRE_ERROR(io::JsonConfig::load(d / "config.json"), "config.json", "does not exist");
}
