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
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"prompt\": \"x\", \"width\": 0}]", "p.json"), Contains("positive integer"));
  REQUIRE_THROWS_WITH(parse_prompt_json("{\"prompt\": \"x\"}", "p.json"), Contains("expected a JSON list"));
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"prompt\": \"x\"},", "p.json"), Contains("[p.json] not valid JSON"));
  REQUIRE_THROWS_WITH(parse_prompt_json("[]", "p.json"), Contains("the list is empty"));
  // found by fuzz_text_inputs: a number too large for a double is nlohmann's out_of_range, not a parse_error
  REQUIRE_THROWS_WITH(parse_prompt_json("[{\"prompt\": \"x\", \"seed\": 77e777}]", "p.json"), Contains("[p.json] not valid JSON"));
  REQUIRE_THROWS_WITH(parse_prompt_json("[\"just a string\"]", "p.json"), Contains("entry 0 is a string"));
}
