// PromptEncoder end to end against diffusers' SanaPipeline.encode_prompt (CHI on, max_sequence_length 300)
// with the trained test tokenizer and the tiny Gemma-2 encoder; and the reuse of repeated/negative prompts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "sana/io/safetensors.hpp"
#include "sana/text/prompt_encoder.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

namespace {
const std::string kDir = std::string(SANA_TEST_DATA_DIR) + "/text/";

template <class B>
text::PromptEncoder<B, float> make_encoder() {
  auto& ctx = test_context<B>();
  return text::PromptEncoder<B, float>(text::GemmaTokenizer::load(kDir + "tokenizer"),
                                       text::Gemma2Encoder<B, float>::load(ctx, kDir + "gemma2_tiny"));
}

template <class B, class U, std::size_t R>
Tensor<U, R, reference_backend> host(const Tensor<U, R, B>& t) {
  return to_host<B>(test_context<B>(), t.view());
}
} // namespace

TEMPLATE_LIST_TEST_CASE("PromptEncoder equals SanaPipeline.encode_prompt", "[unit][text][encode_prompt]", ParityBackends) {
  using B = TestType;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  auto enc = make_encoder<B>();
  const auto f = io::SafetensorsFile::open(kDir + "encode_prompt.safetensors");
  const auto prompts = nlohmann::json::parse(*f.metadata_value("prompts")).get<std::vector<std::string>>();
  REQUIRE(enc.options().max_sequence_length == std::stoll(*f.metadata_value("max_sequence_length")));
  Workspace<B> ws;
  auto pos = enc.encode(ctx, ws, prompts);
  ws.reset();
  auto neg = enc.encode_negative(ctx, ws, *f.metadata_value("negative_prompt"), static_cast<std::int64_t>(prompts.size()));
  ws.reset();
  REQUIRE(enc.rows_encoded() == 1);  // the negative prompt ran once for the batch
  auto neg_again = enc.encode_negative(ctx, ws, *f.metadata_value("negative_prompt"), 2);
  ws.reset();
  REQUIRE(enc.rows_encoded() == 0);  // and not again for a later call with the same text
  const auto ne_again = host<B>(neg_again.embeds);
  const auto want_pe = f.load<float, 3>("prompt_embeds");
  const auto want_pm = f.load<std::int64_t, 2>("prompt_attention_mask");
  const auto want_ne = f.load<float, 3>("negative_prompt_embeds");
  const auto want_nm = f.load<std::int64_t, 2>("negative_prompt_attention_mask");
  const auto pm = host<B>(pos.mask), nm = host<B>(neg.mask);
  REQUIRE(std::equal(pm.data(), pm.data() + pm.numel(), want_pm.data()));
  REQUIRE(std::equal(nm.data(), nm.data() + nm.numel(), want_nm.data()));
  const auto pe = host<B>(pos.embeds), ne = host<B>(neg.embeds);
  std::printf("encode_prompt on %s: prompt embeds relative L2 %.3g, negative %.3g\n",
              std::string(backend_traits<B>::name).c_str(), relative_l2<float, 3>(pe.view(), want_pe.view()),
              relative_l2<float, 3>(ne.view(), want_ne.view()));
  require_close<float, 3>(pe.view(), want_pe.view(), 1e-4);
  require_close<float, 3>(ne.view(), want_ne.view(), 1e-4);
  REQUIRE(std::equal(ne_again.data(), ne_again.data() + ne_again.numel(), ne.data()));
}

TEST_CASE("PromptEncoder encodes a repeated prompt once and matches a lone encoding", "[unit][text][encode_prompt]") {
  using B = reference_backend;
  auto& ctx = test_context<B>();
  auto enc = make_encoder<B>();
  Workspace<B> ws;
  const std::vector<std::string> batch{"A red fox", "a cat", "  a red FOX "};  // rows 0 and 2 preprocess alike
  auto all = enc.encode(ctx, ws, batch);
  ws.reset();
  REQUIRE(enc.rows_encoded() == 2);
  auto lone = enc.encode(ctx, ws, std::vector<std::string>{"a cat"});
  ws.reset();
  const std::int64_t per_row = all.embeds.size(1) * all.embeds.size(2);
  REQUIRE(std::equal(lone.embeds.data(), lone.embeds.data() + per_row, all.embeds.data() + per_row));
  REQUIRE(std::equal(all.embeds.data(), all.embeds.data() + per_row, all.embeds.data() + 2 * per_row));

  text::PromptOptions no_chi;
  no_chi.complex_human_instruction.clear();
  no_chi.max_sequence_length = 16;
  text::PromptEncoder<B, float> plain(text::GemmaTokenizer::load(kDir + "tokenizer"),
                                      text::Gemma2Encoder<B, float>::load(ctx, kDir + "gemma2_tiny"), no_chi);
  REQUIRE(plain.chi_tokens() == 0);
  const auto tb = plain.tokenize_positive(std::vector<std::string>{"A Cat"});
  REQUIRE(tb.length == 16);
  auto e = plain.encode(ctx, ws, std::vector<std::string>{"A Cat"});
  ws.reset();
  REQUIRE(e.embeds.size(1) == 16);
}

TEST_CASE("PromptEncoder refuses a tokenizer with more pieces than the encoder embeds", "[unit][text][encode_prompt]") {
  auto tokenizer = text::GemmaTokenizer::load(kDir + "tokenizer");
  auto cfg = text::Gemma2Config::gemma2_2b();
  cfg.vocab_size = tokenizer.vocab_size() - 1;  // one piece would index past the embedding table
  cfg.hidden_size = 8;
  cfg.intermediate_size = 16;
  cfg.num_hidden_layers = 1;
  cfg.num_attention_heads = cfg.num_key_value_heads = 1;
  cfg.head_dim = 8;
  cfg.fill_default_layer_types();
  REQUIRE_THROWS_WITH((text::PromptEncoder<reference_backend, float>(std::move(tokenizer),
                                                                      text::Gemma2Encoder<reference_backend, float>(cfg))),
                      Catch::Matches(".*tokenizer/tokenizer.model\\) has [0-9]+ pieces but the text encoder "
                                     "\\(text_encoder/config.json vocab_size\\) embeds [0-9]+: they come from different "
                                     "models.*"));
}

TEMPLATE_LIST_TEST_CASE("PaddedTokens::zeroed keeps every real-token embedding, padding past the last real token is 0",
                        "[unit][text][encode_prompt]", ParityBackends) {
  using B = TestType;
  SANA_REQUIRE_BACKEND(B);
  auto& ctx = test_context<B>();
  auto enc = make_encoder<B>();
  const std::vector<std::string> prompts{"a cat", "a much longer prompt about a red fox jumping over a lazy dog"};
  Workspace<B> ws;
  auto full = enc.encode(ctx, ws, prompts);
  ws.reset();
  auto cut = enc.encode(ctx, ws, prompts, text::PaddedTokens::zeroed);
  ws.reset();
  auto neg_full = enc.encode_negative(ctx, ws, "", 1);
  ws.reset();
  auto neg_cut = enc.encode_negative(ctx, ws, "", 1, text::PaddedTokens::zeroed);  // not served from the cache
  ws.reset();
  REQUIRE(enc.rows_encoded() == 1);
  for (auto [a, b] : {std::pair{&full, &cut}, std::pair{&neg_full, &neg_cut}}) {
    const auto ea = host<B>(a->embeds), eb = host<B>(b->embeds);
    const auto ma = host<B>(a->mask), mb = host<B>(b->mask);
    REQUIRE(std::equal(ma.data(), ma.data() + ma.numel(), mb.data()));
    const std::int64_t rows = ea.size(0) * ea.size(1), dim = ea.size(2);
    double worst = 0, scale = 0;
    std::int64_t padded = 0;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < dim; ++c) {
        const float x = ea.data()[r * dim + c], y = eb.data()[r * dim + c];
        if (ma.data()[r]) {  // real tokens: the same embeddings
          worst = std::max(worst, double(std::abs(x - y)));
          scale = std::max(scale, double(std::abs(x)));
        } else {  // padding: zero past the batch's last real token, finite before it
          padded += y == 0.0f;
          REQUIRE(std::isfinite(y));
        }
      }
    REQUIRE(padded > 0);
    REQUIRE(worst <= 1e-5 * scale);
  }
}
