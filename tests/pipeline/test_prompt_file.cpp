#include <catch2/catch.hpp>

#include "sana/pipeline/prompt_file.hpp"

using namespace sana::pipeline;
using Catch::Contains;

TEST_CASE("prompt lines: blank lines skipped, CRLF handled, broken lines named", "[unit][prompts]") {
  auto jobs = parse_prompt_lines("a red circle\r\n\n   \na blue square on green\n", "p.txt");
  REQUIRE(jobs.size() == 2);
  REQUIRE(jobs[0].prompt == "a red circle");
  REQUIRE(jobs[1].prompt == "a blue square on green");
  REQUIRE(parse_prompt_lines("一只猫 🐱", "p.txt")[0].prompt == "一只猫 🐱");
  REQUIRE_THROWS_WITH(parse_prompt_lines("ok\nbad \xff line\n", "p.txt"), Contains("[p.txt] line 2 is not valid UTF-8"));
  REQUIRE_THROWS_WITH(parse_prompt_lines(std::string("ok\nnul\0x", 8), "p.txt"), Contains("line 2 contains a NUL"));
  REQUIRE_THROWS_WITH(parse_prompt_lines("\n \n", "p.txt"), Contains("no prompts"));
  REQUIRE_THROWS_WITH(read_prompt_lines("/nonexistent/prompts.txt"), Contains("does not exist"));
}

TEST_CASE("prompt JSON: list of objects with typed optional fields", "[unit][prompts]") {
  auto jobs = parse_prompt_json(
      R"([{"prompt": "a cat", "seed": 5, "width": 512, "cfg_scale": 4.5}, {"prompt": "a dog", "negative_prompt": "blur"}])",
      "p.json");
  REQUIRE(jobs.size() == 2);
  REQUIRE(*jobs[0].seed == 5);
  REQUIRE(*jobs[0].width == 512);
  REQUIRE(*jobs[0].cfg_scale == 4.5);
  REQUIRE(*jobs[1].negative_prompt == "blur");
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"prompt\": 3}]", "p.json"), Contains("entry 0: \"prompt\" must be a string"));
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"promt\": \"x\"}]", "p.json"), Contains("unknown key \"promt\""));
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"seed\": 1}]", "p.json"), Contains("entry 0 has no \"prompt\""));
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"prompt\": \"x\", \"seed\": -1}]", "p.json"), Contains("non-negative integer"));
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"prompt\": \"x\", \"width\": 0}]", "p.json"), Contains("\"width\" must be in [32, 8192], got 0"));
  REQUIRE_THROWS_WITH(parse_prompt_json("{\"prompt\": \"x\"}", "p.json"), Contains("expected a JSON list"));
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"prompt\": \"x\"},", "p.json"), Contains("[p.json] invalid JSON"));
  REQUIRE_THROWS_WITH(parse_prompt_json("[]", "p.json"), Contains("the list is empty"));
  // found by fuzz_text_inputs: a number too large for a double is nlohmann's out_of_range, not a parse_error
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"prompt\": \"x\", \"seed\": 77e777}]", "p.json"), Contains("[p.json] invalid JSON"));
  REQUIRE_THROWS_WITH(parse_prompt_json("[\"just a string\"]", "p.json"), Contains("entry 0 is a string"));
}

TEST_CASE("prompt JSON: names stay plain and unique, numbers within the request limits", "[unit][prompts][negative]") {
  auto err = [](const std::string& text) {
    try {
      parse_prompt_json(text, "p.json");
    } catch (const sana::error& e) {
      return std::string(e.what());
    }
    return std::string("<accepted>");
  };
  CHECK_THAT(err(R"([{"prompt": "a", "name": "../evil"}])"), Contains("entry 0: \"name\" '../evil' must be a file name"));
  CHECK_THAT(err(R"([{"prompt": "a", "name": "/tmp/abs"}])"), Contains("must be a file name without '/'"));
  CHECK_THAT(err(R"([{"prompt": "a", "name": ""}])"), Contains("entry 0: \"name\" is empty"));
  CHECK_THAT(err(R"([{"prompt": "a", "name": ".hidden"}])"), Contains("must not start with '.'"));
  CHECK_THAT(err(R"([{"prompt": "a", "name": "n"}, {"prompt": "b", "name": "n"}])"),
             Contains("entry 1: \"name\" 'n' is already used by entry 0"));
  CHECK_THAT(err(R"([{"prompt": "a", "prompt": "b"}])"), Contains("[p.json] duplicate key 'prompt'"));
  CHECK_THAT(err(R"([{"prompt": "a\u0000b"}])"), Contains("entry 0: \"prompt\" contains a NUL byte"));
  CHECK_THAT(err(R"([{"prompt": "a", "negative_prompt": "\u0000"}])"), Contains("\"negative_prompt\" contains a NUL"));
  CHECK_THAT(err(R"([{"prompt": "a", "steps": 4294967297}])"), Contains("\"steps\" must be in [1, 1000], got 4294967297"));
  CHECK_THAT(err(R"([{"prompt": "a", "steps": 18446744073709551615}])"), Contains("\"steps\" must be in [1, 1000]"));
  CHECK_THAT(err(R"([{"prompt": "a", "width": 100}])"), Contains("\"width\" must be a multiple of 32, got 100"));
  CHECK_THAT(err(R"([{"prompt": "a", "height": 65536}])"), Contains("\"height\" must be in [32, 8192]"));
  CHECK_THAT(err(R"([{"prompt": "a", "cfg_scale": 1e308}])"), Contains("\"cfg_scale\" must be in [-1000, 1000]"));
  CHECK_THAT(err(R"([{"prompt": "a", "steps": 2.5}])"), Contains("\"steps\" must be an integer, got 2.5"));
  const std::string big(sana::pipeline::max_prompt_bytes + 1, 'x');
  CHECK_THAT(err("[{\"prompt\": \"" + big + "\"}]"), Contains("above the limit of 1048576"));
  CHECK_THAT(err(R"([{"prompt": "a", "name": "ok", "seed": 3}])"), Contains("<accepted>"));
  const auto jobs = parse_prompt_json(R"([{"prompt": "a", "name": "x"}, {"prompt": "b"}])", "p.json");
  CHECK(jobs[0].source == "p.json entry 0");
  CHECK(parse_prompt_lines("\nb\n", "p.txt")[0].source == "p.txt line 2");
}
