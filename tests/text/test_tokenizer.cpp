// GemmaTokenizer (SentencePiece) against the transformers tokenizer SanaPipeline gets from AutoTokenizer
// on the same folder: identical ids and masks for English, Chinese, emoji, accents, special tokens written
// in the text, empty and whitespace-only prompts, and prompts past the limit.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "sana/io/safetensors.hpp"
#include "sana/text/prompt.hpp"
#include "sana/text/tokenizer.hpp"

using namespace sana;

namespace {
const std::string kDir = std::string(SANA_TEST_DATA_DIR) + "/text/";
}

TEST_CASE("GemmaTokenizer ids and masks equal transformers' on the prompt list", "[unit][text][tokenizer]") {
  const auto tok = text::GemmaTokenizer::load(kDir + "tokenizer");
  REQUIRE(tok.pad_id() == 0);
  REQUIRE(tok.eos_id() == 1);
  REQUIRE(tok.bos_id() == 2);
  REQUIRE(tok.unk_id() == 3);
  const auto f = io::SafetensorsFile::open(kDir + "tokenizer_cases.safetensors");
  const auto prompts = nlohmann::json::parse(*f.metadata_value("prompts")).get<std::vector<std::string>>();
  for (std::int64_t max_length : {64, 700}) {
    const auto ids = f.load<std::int64_t, 2>("ids_" + std::to_string(max_length));
    const auto mask = f.load<std::int64_t, 2>("mask_" + std::to_string(max_length));
    const auto got = tok.tokenize(prompts, max_length);
    REQUIRE(got.rows == static_cast<std::int64_t>(prompts.size()));
    REQUIRE(got.length == max_length);
    for (std::int64_t r = 0; r < got.rows; ++r) {
      INFO("prompt " << r << " '" << prompts[r].substr(0, 60) << "', max_length " << max_length);
      std::vector<std::int64_t> want_ids(ids.data() + r * max_length, ids.data() + (r + 1) * max_length);
      std::vector<std::int64_t> want_mask(mask.data() + r * max_length, mask.data() + (r + 1) * max_length);
      std::vector<std::int64_t> got_ids(got.ids.begin() + r * max_length, got.ids.begin() + (r + 1) * max_length);
      std::vector<std::int64_t> got_mask(got.mask.begin() + r * max_length, got.mask.begin() + (r + 1) * max_length);
      REQUIRE(got_ids == want_ids);
      REQUIRE(got_mask == want_mask);
    }
  }
  // len(tokenizer.encode(chi)) as diffusers computes it
  REQUIRE(static_cast<std::int64_t>(tok.encode(text::join_lines(text::default_complex_human_instruction())).size()) ==
          std::stoll(*f.metadata_value("chi_tokens")));
}

TEST_CASE("GemmaTokenizer refuses folders it cannot read, clearly", "[unit][text][tokenizer]") {
  REQUIRE_THROWS_WITH(text::GemmaTokenizer::load(kDir + "tokenizer_json_only"),
                      Catch::Contains("tokenizer.json but no tokenizer.model"));
  REQUIRE_THROWS_WITH(text::GemmaTokenizer::load(kDir + "no_such_folder"), Catch::Contains("not found"));
  const auto tok = text::GemmaTokenizer::load(kDir + "tokenizer");
  REQUIRE_THROWS_WITH(tok.tokenize(std::vector<std::string>{"a"}, 0), Catch::Contains("max_length"));
  const auto one = tok.tokenize(std::vector<std::string>{"a long prompt"}, 1);  // only BOS fits
  REQUIRE(one.ids == std::vector<std::int64_t>{2});
  REQUIRE(one.mask == std::vector<std::int64_t>{1});
}
