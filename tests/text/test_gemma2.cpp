// Gemma2Encoder against transformers' Gemma2Model (eager attention, fp32) on padded batches:
// a tiny config with sliding window and soft-cap, and one with the real head_dim 256 and 8:4 GQA
// (bf16 weights, `model.` key prefix). fp32 within 1e-4 relative L2; bf16 against the fp32 output and PyTorch's bf16 run.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <string>

#include "sana/io/safetensors.hpp"
#include "sana/text/gemma2.hpp"
#include "support/backends.hpp"
#include "support/compare.hpp"

using namespace sana;
using namespace sana::test;

namespace {
template <class B, class T>
void check_fixture(const std::string& name, double tol) {
  auto& ctx = test_context<B>();
  const std::string dir = std::string(SANA_TEST_DATA_DIR) + "/text/" + name;
  auto enc = text::Gemma2Encoder<B, T>::load(ctx, dir);
  const auto f = io::SafetensorsFile::open(dir + "/io.safetensors");
  REQUIRE(*f.metadata_value("attn_implementation") == "eager");
  auto ids = f.load<std::int64_t, 2>("input_ids");
  auto mask = f.load<std::int64_t, 2>("attention_mask");
  auto want = f.load<float, 3>("last_hidden_state");
  auto idd = to_backend<B>(ctx, ids.view());
  auto md = to_backend<B>(ctx, mask.view());
  Tensor<T, 3, B> out(want.shape());
  Workspace<B> ws;
  for (int call = 0; call < 2; ++call) {  // the second call runs in the sized workspace
    enc.forward(ctx, ws, idd.view(), md.view(), out.view());
    ws.reset();
  }
  const std::size_t allocations = ws.allocation_count();
  enc.forward(ctx, ws, idd.view(), md.view(), out.view());
  ws.reset();
  REQUIRE(ws.allocation_count() == allocations);
  auto host = to_host<B>(ctx, out.view());
  Tensor<float, 3, reference_backend> got(want.shape());
  for (std::int64_t i = 0; i < got.numel(); ++i) got.data()[i] = to_float(host.data()[i]);
  const double err = relative_l2<float, 3>(got.view(), want.view());
  std::printf("gemma2 %s on %s/%s: relative L2 %.3g (tolerance %.1g)\n", name.c_str(),
              std::string(backend_traits<B>::name).c_str(), std::string(dtype_name(dtype_of_v<T>)).c_str(), err, tol);
  require_close<float, 3>(got.view(), want.view(), tol);
  if constexpr (std::is_same_v<T, bf16>) {  // against PyTorch's own bf16 run of the same (bf16-rounded) weights
    const auto want16 = f.load<float, 3>("last_hidden_state_bf16");
    const double err16 = relative_l2<float, 3>(got.view(), want16.view());
    std::printf("gemma2 %s on %s/bf16 vs PyTorch bf16: relative L2 %.3g\n", name.c_str(),
                std::string(backend_traits<B>::name).c_str(), err16);
    require_close<float, 3>(got.view(), want16.view(), tol);
  }
}

template <class B, class T>
struct EncoderCombo {
  using backend = B;
  using type = T;
};
template <class Bs> struct encoder_matrix;
template <class... Bs> struct encoder_matrix<std::tuple<Bs...>> {
  using type = std::tuple<EncoderCombo<Bs, float>..., EncoderCombo<Bs, bf16>...>;
};
using EncoderMatrix = encoder_matrix<ParityBackends>::type;
} // namespace

TEMPLATE_LIST_TEST_CASE("Gemma2Encoder matches transformers Gemma2Model (tiny, sliding window, soft-cap)",
                        "[parity][text][gemma2]", EncoderMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  check_fixture<B, T>("gemma2_tiny", std::is_same_v<T, float> ? 1e-4 : 3e-2);
}

TEMPLATE_LIST_TEST_CASE("Gemma2Encoder matches transformers Gemma2Model (head_dim 256, GQA 8:4, model. prefix)",
                        "[parity][text][gemma2]", EncoderMatrix) {
  using B = typename TestType::backend;
  using T = typename TestType::type;
  SANA_REQUIRE_BACKEND(B);
  check_fixture<B, T>("gemma2_hd256", std::is_same_v<T, float> ? 1e-4 : 3e-2);
}

TEST_CASE("Gemma2Config parsing and loading errors", "[unit][text][gemma2]") {
  const auto cfg = io::JsonConfig::parse(R"({"model_type": "gemma2", "vocab_size": 10, "hidden_size": 8,
      "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3,
      "head_dim": 2})", "config.json");
  REQUIRE_THROWS_WITH(text::Gemma2Config::from_json(cfg), Catch::Contains("num_key_value_heads"));
  // found by fuzz_text_inputs: zero heads without head_dim divided by zero while deriving it
  const auto zero = io::JsonConfig::parse(R"({"vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 2, "num_attention_heads": 0})", "config.json");
  REQUIRE_THROWS_WITH(text::Gemma2Config::from_json(zero), Catch::Contains("num_attention_heads must be positive"));
  const auto c = text::Gemma2Config::gemma2_2b();
  REQUIRE(c.sliding_layers.size() == 26);
  REQUIRE(c.sliding_layers[0]);
  REQUIRE_FALSE(c.sliding_layers[1]);
  REQUIRE(c.parameter_count() == 2614341888);  // Gemma-2-2B decoder stack incl. embedding
  reference::Context ctx;
  REQUIRE_THROWS_WITH((text::Gemma2Encoder<reference_backend, float>::load(ctx, SANA_TEST_DATA_DIR "/text/tokenizer")),
                      Catch::Contains("safetensors"));
}

TEST_CASE("Gemma2Encoder::load leaves the embedding table in the mapping, lookups equal a full copy",
          "[unit][text][gemma2]") {
  using B = reference_backend;
  auto& ctx = test_context<B>();
  for (const std::string name : {"gemma2_tiny", "gemma2_hd256"}) {  // F32 and BF16 storage
    const std::string dir = std::string(SANA_TEST_DATA_DIR) + "/text/" + name;
    auto mapped = text::Gemma2Encoder<B, bf16>::load(ctx, dir);
    io::ModelFolder folder = io::ModelFolder::open(dir);
    text::Gemma2Encoder<B, bf16> copied(text::Gemma2Config::from_json(folder.config()));
    copied.load_weights(ctx, folder);  // no shared folder: every weight copied
    int mapped_params = 0, copied_params = 0;
    mapped.visit_parameters([&](const std::string& key, auto&) { mapped_params += 1; REQUIRE(key != "embed_tokens.weight"); });
    copied.visit_parameters([&](const std::string&, auto&) { copied_params += 1; });
    REQUIRE(mapped_params + 1 == copied_params);

    const auto f = io::SafetensorsFile::open(dir + "/io.safetensors");
    auto ids = f.load<std::int64_t, 2>("input_ids");
    auto mask = f.load<std::int64_t, 2>("attention_mask");
    Tensor<bf16, 3, B> a({ids.size(0), ids.size(1), mapped.config().hidden_size});
    Tensor<bf16, 3, B> b(a.shape());
    Workspace<B> ws;
    mapped.forward(ctx, ws, ids.view(), mask.view(), a.view());
    ws.reset();
    copied.forward(ctx, ws, ids.view(), mask.view(), b.view());
    ws.reset();
    REQUIRE(std::memcmp(a.data(), b.data(), a.bytes()) == 0);

    ids.data()[1] = mapped.config().vocab_size;  // one id past the table
    REQUIRE_THROWS_WITH(mapped.forward(ctx, ws, ids.view(), mask.view(), a.view()),
                        Catch::Contains("token id " + std::to_string(mapped.config().vocab_size) +
                                        " at position 1 is outside the vocabulary"));
    ws.reset();
  }
}
