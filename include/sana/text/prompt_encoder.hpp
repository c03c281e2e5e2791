/// @file
/// `text::PromptEncoder<B, T>`: prompts → the (N, max_sequence_length, C) embeddings and (N, max_sequence_length)
/// mask the transformer reads, exactly as diffusers' `SanaPipeline.encode_prompt`:
///   positive: lower().strip(), CHI prefix, tokenize to n_chi + max_sequence_length − 2, Gemma-2, keep index 0
///             and the last max_sequence_length − 1 positions (hidden states and mask alike);
///   negative: lower().strip(), no CHI, tokenize to max_sequence_length, Gemma-2, no selection.
/// Repeated prompts of a batch are encoded once, and the negative prompt once for the whole batch (and kept for
/// later calls with the same negative prompt).
/// Activations come from the caller's workspace; call `ws.reset()` between calls, as for every model.
/// Needs SentencePiece (through tokenizer.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sana/text/gemma2.hpp"
#include "sana/text/prompt.hpp"
#include "sana/text/tokenizer.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace text {

struct PromptOptions {
  std::int64_t max_sequence_length = 300;
  /// Prepended to every positive prompt; empty turns CHI off (diffusers' `complex_human_instruction=None`).
  std::vector<std::string> complex_human_instruction = default_complex_human_instruction();
};

/// What a padded position of the output holds. Gemma-2 is causal and the padding comes last, so no real token
/// depends on a padded one, and every consumer of the embeddings masks padded positions out (the DiT's
/// cross-attention adds −10000 to their logits, whose softmax weight underflows to exactly 0). `zeroed` therefore runs
/// Gemma-2 only up to the batch's last real token and writes zeros after it: the same real-token embeddings for
/// a fraction of the work (a short prompt with CHI: about 450 of 727 positions; an empty negative prompt: 1 of 300).
/// Padded positions before the batch's last real token are computed but may differ from `computed`: a padded
/// query whose sliding window holds no real key gets transformers' uniform 1/keys fallback, which depends on the
/// sequence length. Only their finiteness matters downstream. `computed` (the default) equals diffusers'
/// encode_prompt at every position, padded ones included.
enum class PaddedTokens { computed, zeroed };

/// 1 + the last position that any of `rows` mask rows of `length` keeps; at least 1 (BOS is always kept).
inline std::int64_t kept_length(const std::int64_t* mask, std::int64_t rows, std::int64_t length) {
  std::int64_t kept = 1;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t s = length - 1; s >= kept; --s)
      if (mask[r * length + s]) {
        kept = s + 1;
        break;
      }
  return kept;
}

/// Embeddings (N, M, C) and mask (N, M) on backend B.
template <class B, class T>
struct PromptEmbeddings {
  Tensor<T, 3, B> embeds;
  Tensor<std::int64_t, 2, B> mask;
};

template <class B, class T>
class PromptEncoder {
public:
  using Ctx = context_t<B>;
  using space = space_t<B>;

  PromptEncoder(GemmaTokenizer tokenizer, Gemma2Encoder<B, T> encoder, PromptOptions options = {})
      : tokenizer_(std::move(tokenizer)), encoder_(std::move(encoder)), options_(std::move(options)) {
    check(tokenizer_.vocab_size() <= encoder_.config().vocab_size, "text encoder", "the tokenizer (tokenizer/tokenizer.model) has ",
          tokenizer_.vocab_size(), " pieces but the text encoder (text_encoder/config.json vocab_size) embeds ",
          encoder_.config().vocab_size, ": they come from different models");
    if (!options_.complex_human_instruction.empty()) {
      chi_text_ = join_lines(options_.complex_human_instruction);
      chi_tokens_ = static_cast<std::int64_t>(tokenizer_.encode(chi_text_).size());
    }
  }

  const GemmaTokenizer& tokenizer() const { return tokenizer_; }
  Gemma2Encoder<B, T>& encoder() { return encoder_; }
  const PromptOptions& options() const { return options_; }
  /// len(tokenizer.encode(chi)), BOS included; 0 without CHI.
  std::int64_t chi_tokens() const { return chi_tokens_; }
  /// Rows the last encode call ran through Gemma-2 (repeated prompts count once).
  std::int64_t rows_encoded() const { return rows_encoded_; }

  /// The token batch a positive prompt list is encoded from (CHI prefixed, n_chi + M − 2 long with CHI).
  TokenBatch tokenize_positive(std::span<const std::string> prompts) const {
    std::vector<std::string> texts;
    for (const auto& p : prompts) texts.push_back(chi_text_ + preprocess_prompt(p));
    return tokenizer_.tokenize(texts, token_budget(options_.max_sequence_length, chi_tokens_));
  }

  /// Positive prompts → embeddings (N, M, C) and mask (N, M), with CHI and index selection.
  PromptEmbeddings<B, T> encode(Ctx& ctx, Workspace<B>& ws, std::span<const std::string> prompts,
                                PaddedTokens padded = PaddedTokens::computed) {
    std::vector<std::string> texts;
    for (const auto& p : prompts) texts.push_back(chi_text_ + preprocess_prompt(p));
    const std::int64_t budget = token_budget(options_.max_sequence_length, chi_tokens_);
    return run(ctx, ws, texts, budget, /*select=*/true, padded);
  }

  /// The negative prompt (no CHI, M tokens, no selection) repeated for `batch` rows. It runs through Gemma-2 once,
  /// and not again while later calls pass the same (preprocessed) text.
  PromptEmbeddings<B, T> encode_negative(Ctx& ctx, Workspace<B>& ws, const std::string& negative, std::int64_t batch,
                                         PaddedTokens padded = PaddedTokens::computed) {
    std::string text = preprocess_prompt(negative);
    if (!negative_cache_ || negative_text_ != text || negative_padded_ != padded) {
      negative_cache_.emplace(run(ctx, ws, {text}, options_.max_sequence_length, /*select=*/false, padded));
      negative_text_ = std::move(text);
      negative_padded_ = padded;
    } else {
      rows_encoded_ = 0;
    }
    const std::int64_t m = options_.max_sequence_length, dim = encoder_.config().hidden_size;
    PromptEmbeddings<B, T> out{Tensor<T, 3, B>({batch, m, dim}), Tensor<std::int64_t, 2, B>({batch, m})};
    const auto& c = *negative_cache_;
    for (std::int64_t i = 0; i < batch; ++i) {
      ops::copy(ctx, c.embeds.view(), out.embeds.view().slice(0, i, 1));  // (1, M, C)
      ops::copy(ctx, c.mask.view(), out.mask.view().slice(0, i, 1));      // (1, M)
    }
    return out;
  }

private:
  /// Tokenizes the distinct texts, runs Gemma-2 once over them, then copies each selected row into place.
  PromptEmbeddings<B, T> run(Ctx& ctx, Workspace<B>& ws, const std::vector<std::string>& texts, std::int64_t budget,
                             bool select, PaddedTokens padded) {
    const std::int64_t n = static_cast<std::int64_t>(texts.size()), m = options_.max_sequence_length;
    const std::int64_t dim = encoder_.config().hidden_size;
    std::vector<std::string> unique;
    std::vector<std::int64_t> row_of;  // text i → row of `unique`
    std::map<std::string, std::int64_t> seen;
    for (const auto& t : texts) {
      auto [it, inserted] = seen.emplace(t, static_cast<std::int64_t>(unique.size()));
      if (inserted) unique.push_back(t);
      row_of.push_back(it->second);
    }
    const std::int64_t u = static_cast<std::int64_t>(unique.size());
    rows_encoded_ = u;
    PromptEmbeddings<B, T> out{Tensor<T, 3, B>({n, m, dim}), Tensor<std::int64_t, 2, B>({n, m})};
    if (n == 0) return out;

    const TokenBatch tb = tokenizer_.tokenize(unique, budget);
    const std::vector<std::int64_t> idx = select ? select_index(budget, m) : identity(m);
    // Mask rows are gathered on the host (they are token bookkeeping) and uploaded once.
    std::vector<std::int64_t> mask_host(static_cast<std::size_t>(n * m));
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t s = 0; s < m; ++s) mask_host[i * m + s] = tb.mask[row_of[i] * budget + idx[s]];
    backend_traits<B>::upload(ctx, out.mask.data(), mask_host.data(), mask_host.size() * sizeof(std::int64_t));

    // Positions [0, used) run through Gemma-2: all of them, or (zeroed) up to the last real token of any row.
    const std::int64_t used = padded == PaddedTokens::computed ? budget : kept_length(tb.mask.data(), u, budget);
    std::vector<std::int64_t> ids_used(static_cast<std::size_t>(u * used)), mask_used(ids_used.size());
    for (std::int64_t r = 0; r < u; ++r)
      for (std::int64_t s = 0; s < used; ++s) {
        ids_used[r * used + s] = tb.ids[r * budget + s];
        mask_used[r * used + s] = tb.mask[r * budget + s];
      }
    auto ids = to_backend<B>(ctx, TensorView<const std::int64_t, 2>(ids_used.data(), {u, used}));     // (U, Lused)
    auto tmask = to_backend<B>(ctx, TensorView<const std::int64_t, 2>(mask_used.data(), {u, used}));  // (U, Lused)
    if (used < budget) {  // selected positions past `used` stay zero
      const std::vector<T> zeros(static_cast<std::size_t>(out.embeds.numel()), convert<T>(0.0f));
      backend_traits<B>::upload(ctx, out.embeds.data(), zeros.data(), out.embeds.bytes());
    }
    {
      auto scope = ws.scope();
      auto hidden = ws.template allocate<T>(Shape<3>{u, used, dim});  // (U, Lused, C)
      encoder_.forward(ctx, ws, ids.view(), tmask.view(), hidden);
      // idx is [0] followed by one contiguous run, so each output row is two strided copies (cut at `used`).
      const std::int64_t run = m > 1 ? std::clamp<std::int64_t>(used - idx[1], 0, m - 1) : 0;
      for (std::int64_t i = 0; i < n; ++i) {
        const auto src = hidden.slice(0, row_of[i], 1);          // (1, Lused, C)
        const auto dst = out.embeds.view().slice(0, i, 1);      // (1, M, C)
        ops::copy(ctx, TensorView<const T, 3, space>(src.slice(1, 0, 1)), dst.slice(1, 0, 1));  // (1, 1, C)
        if (run > 0)
          ops::copy(ctx, TensorView<const T, 3, space>(src.slice(1, idx[1], run)), dst.slice(1, 1, run));  // (1, run, C)
      }
    }
    return out;
  }

  static std::vector<std::int64_t> identity(std::int64_t m) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(m));
    for (std::int64_t i = 0; i < m; ++i) v[i] = i;
    return v;
  }

  GemmaTokenizer tokenizer_;
  Gemma2Encoder<B, T> encoder_;
  PromptOptions options_;
  std::string chi_text_;
  std::int64_t chi_tokens_ = 0;
  std::int64_t rows_encoded_ = 0;
  std::optional<PromptEmbeddings<B, T>> negative_cache_;  // (1, M, C) and (1, M)
  std::string negative_text_;
  PaddedTokens negative_padded_ = PaddedTokens::computed;
};

} // namespace text
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
