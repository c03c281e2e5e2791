// `sana encode`: the text-encoder component on its own. Prompts in; SanaPipeline.encode_prompt's
// embeddings and masks out as safetensors; the token ids (and pieces) of each kept window printed.
#include <chrono>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "flags.hpp"
#include "sana/io/safetensors_writer.hpp"
#include "sana/text/prompt_encoder.hpp"
#ifdef SANA_WITH_ONEDNN
#include "sana/backends/onednn/onednn.hpp"
#endif

namespace sana_cli {
namespace {

constexpr const char* help_text = R"(usage: sana encode --model DIR --prompt TEXT [--prompt TEXT ...] --out FILE [flags]

Encodes prompts as diffusers' SanaPipeline.encode_prompt does (lower-case + strip, complex human
instruction, Gemma-2, keep BOS + the last max_sequence_length - 1 positions) and writes
prompt_embeds (N, M, C), prompt_attention_mask (N, M) and, unless --no-negative,
negative_prompt_embeds / negative_prompt_attention_mask to FILE. Prints each prompt's kept token ids.

flags:
  --model DIR              a Sana checkpoint folder (uses DIR/tokenizer and DIR/text_encoder)
  --tokenizer DIR          tokenizer folder (overrides DIR/tokenizer)
  --text-encoder DIR       Gemma-2 folder (overrides DIR/text_encoder)
  --prompt TEXT            a prompt (repeatable; repeated prompts are encoded once)
  --negative TEXT          negative prompt (default "")
  --no-negative            skip the negative prompt
  --max-sequence-length M  kept tokens per prompt, 1..8192 (default 300)
  --no-chi                 no complex human instruction
  --dtype f32|bf16         compute and output dtype (default f32)
  --backend onednn|reference  (default onednn when built)
  --out FILE               output safetensors file
  --help                   this text
)";

struct Args {
  std::string model, tokenizer, text_encoder, out, negative, dtype = "f32", backend;
  std::vector<std::string> prompts;
  bool negative_enabled = true, chi = true;
  std::int64_t max_sequence_length = 300;
};

Args parse(std::span<const std::string_view> args) {
  Args a;
  for (FlagCursor flags(args); !flags.done();) {
    const std::string_view f = flags.next();
    auto value = [&] { return flags.value(); };
    if (f == "--model") a.model = value();
    else if (f == "--tokenizer") a.tokenizer = value();
    else if (f == "--text-encoder") a.text_encoder = value();
    else if (f == "--prompt") a.prompts.push_back(value());
    else if (f == "--negative") a.negative = value();
    else if (f == "--no-negative") a.negative_enabled = false;
    else if (f == "--no-chi") a.chi = false;
    else if (f == "--dtype") a.dtype = value();
    else if (f == "--backend") a.backend = value();
    else if (f == "--out") a.out = value();
    else if (f == "--max-sequence-length")
      a.max_sequence_length = parse_number_in<std::int64_t>(f, value(), 1, 8192);
else throw UsageError{"unknown flag '" + std::string(f) + "' (try sana encode --help)"};
  }
  if (a.tokenizer.empty() && !a.model.empty()) a.tokenizer = a.model + "/tokenizer";
  if (a.text_encoder.empty() && !a.model.empty()) a.text_encoder = a.model + "/text_encoder";
  if (a.tokenizer.empty() || a.text_encoder.empty()) throw UsageError{"--model (or --tokenizer and --text-encoder) is required"};
  if (a.prompts.empty()) throw UsageError{"at least one --prompt is required"};
  if (a.out.empty()) throw UsageError{"--out is required"};
  if (a.dtype != "f32" && a.dtype != "bf16") throw UsageError{"--dtype must be f32 or bf16, got '" + a.dtype + "'"};
  return a;
}

template <class B, class T>
int run(const Args& a) {
  using namespace sana;
  context_t<B> ctx;
  text::PromptOptions opt;
  opt.max_sequence_length = a.max_sequence_length;
  if (!a.chi) opt.complex_human_instruction.clear();
  const auto t0 = std::chrono::steady_clock::now();
  text::PromptEncoder<B, T> enc(text::GemmaTokenizer::load(a.tokenizer), text::Gemma2Encoder<B, T>::load(ctx, a.text_encoder),
                                opt);
  const auto t1 = std::chrono::steady_clock::now();

  // The token ids each prompt keeps (select_index applied), as the transformer will see them.
  const auto tb = enc.tokenize_positive(a.prompts);
  const auto idx = opt.complex_human_instruction.empty() ? text::select_index(tb.length, tb.length)
                                                         : text::select_index(tb.length, a.max_sequence_length);
  for (std::size_t p = 0; p < a.prompts.size(); ++p) {
    std::printf("prompt %zu: \"%s\"\n  ids:", p, a.prompts[p].c_str());
    std::int64_t real = 0;
    for (auto i : idx) {
      const auto m = tb.mask[p * tb.length + i];
      if (!m) continue;
      ++real;
      std::printf(" %lld", static_cast<long long>(tb.ids[p * tb.length + i]));
    }
    std::printf("\n  pieces:");
    for (auto i : idx)
      if (tb.mask[p * tb.length + i]) std::printf(" %s", enc.tokenizer().piece(tb.ids[p * tb.length + i]).c_str());
    std::printf("\n  kept tokens: %lld of %lld (window of %lld, CHI tokens %lld)\n", static_cast<long long>(real),
                static_cast<long long>(idx.size()), static_cast<long long>(tb.length),
                static_cast<long long>(enc.chi_tokens()));
  }

  Workspace<B> ws;
  auto pos = enc.encode(ctx, ws, a.prompts);
  ws.reset();
  const auto t2 = std::chrono::steady_clock::now();
  io::SafetensorsWriter w;
  auto pe = to_host<B>(ctx, pos.embeds.view());
  auto pm = to_host<B>(ctx, pos.mask.view());
  w.add("prompt_embeds", pe.view());
  w.add("prompt_attention_mask", pm.view());
  std::optional<text::PromptEmbeddings<B, T>> neg;
  Tensor<T, 3, reference_backend> ne;
  Tensor<std::int64_t, 2, reference_backend> nm;
  if (a.negative_enabled) {
    neg.emplace(enc.encode_negative(ctx, ws, a.negative, static_cast<std::int64_t>(a.prompts.size())));
    ws.reset();
    ne = to_host<B>(ctx, neg->embeds.view());
    nm = to_host<B>(ctx, neg->mask.view());
    w.add("negative_prompt_embeds", ne.view());
    w.add("negative_prompt_attention_mask", nm.view());
  }
  const auto t3 = std::chrono::steady_clock::now();
  w.set_metadata("max_sequence_length", std::to_string(a.max_sequence_length));
  w.set_metadata("complex_human_instruction", a.chi ? "diffusers default" : "none");
  w.set_metadata("backend", std::string(backend_traits<B>::name));
  w.write(a.out);
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf("load %.0f ms, prompts %.0f ms, negative %.0f ms (%s, %s) -> %s\n", ms(t1 - t0), ms(t2 - t1), ms(t3 - t2),
              std::string(backend_traits<B>::name).c_str(), a.dtype.c_str(), a.out.c_str());
  return 0;
}

template <class B>
int run_dtype(const Args& a) {
  return a.dtype == "bf16" ? run<B, sana::bf16>(a) : run<B, float>(a);
}

} // namespace

int cmd_encode(std::span<const std::string_view> args) {
  for (auto f : args)
    if (f == "--help" || f == "-h") {
      std::fputs(help_text, stdout);
      return 0;
    }
  try {
    const Args a = parse(args);
#ifdef SANA_WITH_ONEDNN
    if (a.backend.empty() || a.backend == "onednn") return run_dtype<sana::onednn_backend>(a);
#endif
    if (a.backend.empty() || a.backend == "reference") return run_dtype<sana::reference_backend>(a);
    throw UsageError{"--backend '" + a.backend + "' is not built in (onednn or reference)"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "sana encode: %s\n", e.message.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sana encode: %s\n", e.what());
    return 1;
  }
}

} // namespace sana_cli
