// Prompt text processing against Python (diffusers' lower().strip()) and the encode_prompt window arithmetic.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "sana/io/safetensors.hpp"
#include "sana/text/prompt.hpp"

using namespace sana;

namespace {
io::SafetensorsFile cases() { return io::SafetensorsFile::open(SANA_TEST_DATA_DIR "/text/tokenizer_cases.safetensors"); }
std::string utf8(char32_t c) {
  std::string s;
  text::detail::append_utf8(s, c);
  return s;
}
} // namespace

TEST_CASE("python_lower matches Python's str.lower() code point by code point", "[unit][text]") {
  const auto f = cases();
  const auto* table = f.metadata_value("lowercase_table");
  REQUIRE(table);
  const auto j = nlohmann::json::parse(*table);
  REQUIRE(j.size() > 10000);
  for (const auto& e : j) {
    const auto c = e[0].get<std::uint32_t>();
    INFO("U+" << std::hex << c);
    REQUIRE(text::python_lower(utf8(c)) == e[1].get<std::string>());
  }
}

TEST_CASE("preprocess_prompt equals diffusers' prompt.lower().strip() on the prompt list", "[unit][text]") {
  const auto f = cases();
  const auto prompts = nlohmann::json::parse(*f.metadata_value("prompts"));
  const auto processed = nlohmann::json::parse(*f.metadata_value("processed"));
  REQUIRE(prompts.size() == processed.size());
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i);
    REQUIRE(text::preprocess_prompt(prompts[i].get<std::string>()) == processed[i].get<std::string>());
  }
  REQUIRE(text::python_strip("\xE3\x80\x80 a b\xC2\xA0\t\n") == "a b");
  REQUIRE(text::python_strip(" \t ") == "");
  REQUIRE(text::python_strip("") == "");
  REQUIRE_THROWS_WITH(text::preprocess_prompt("bad \xFF byte"), Catch::Contains("not valid UTF-8"));
}

TEST_CASE("token budget and select_index follow encode_prompt", "[unit][text]") {
  REQUIRE(text::token_budget(300, 0) == 300);
  REQUIRE(text::token_budget(300, 429) == 727);
  const auto idx = text::select_index(727, 300);
  REQUIRE(idx.size() == 300);
  REQUIRE(idx[0] == 0);
  REQUIRE(idx[1] == 428);  // n_chi − 1: the first prompt token when "▁" merges into it
  REQUIRE(idx.back() == 726);
  const auto same = text::select_index(300, 300);
  for (std::int64_t i = 0; i < 300; ++i) REQUIRE(same[i] == i);
  REQUIRE_THROWS_WITH(text::token_budget(0, 0), Catch::Contains("max_sequence_length"));
  REQUIRE(text::join_lines(text::default_complex_human_instruction()).size() > 800);
}
