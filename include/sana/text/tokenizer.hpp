/// @file
/// `text::GemmaTokenizer`: a checkpoint's `tokenizer/` folder (tokenizer.model + tokenizer_config.json /
/// special_tokens_map.json) through SentencePiece, producing what transformers' GemmaTokenizer gives
/// SanaPipeline: BOS prepended (no EOS), truncation to max_length, right padding with <pad>, and a 1/0 mask.
/// Added tokens of tokenizer_config.json (`<start_of_turn>`, `<bos>` written in the text, ...) are split out
/// before SentencePiece sees the text, as transformers does.
///
/// This header needs SentencePiece (<sentencepiece_processor.h>, link `sana::text`); the rest of the library
/// does not. A folder with only `tokenizer.json` is refused with an error that says so.
#pragma once

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sana/core/error.hpp"
#include "sana/core/number.hpp"
#include "sana/io/json_file.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace text {

/// Token ids and attention mask of a batch, row-major (rows × length), int64 like PyTorch's.
struct TokenBatch {
  std::int64_t rows = 0, length = 0;
  std::vector<std::int64_t> ids, mask;
};

class GemmaTokenizer {
public:
  /// Opens a tokenizer folder. Throws naming the folder when tokenizer.model is missing (e.g. only tokenizer.json).
  static GemmaTokenizer load(const std::filesystem::path& dir) {
    const std::string where = "tokenizer";
    std::error_code ec;
    const auto model = dir / "tokenizer.model";
    // Present in any form (a FIFO, a directory, a dangling link): the checked open below says what it is.
    const auto present = [&](const std::filesystem::path& p) {
      return std::filesystem::exists(std::filesystem::symlink_status(p, ec));
    };
    if (!present(model)) {
      if (std::filesystem::is_regular_file(dir / "tokenizer.json", ec))
        fail(where, "'", dir.string(), "' has tokenizer.json but no tokenizer.model; only SentencePiece models are supported ",
             "(the Gemma-2 checkpoints ship tokenizer.model beside tokenizer.json)");
      fail(where, "'", model.string(), "' not found");
    }
    GemmaTokenizer t;
    t.sp_ = std::make_shared<sentencepiece::SentencePieceProcessor>();
    const io::MappedFile bytes = io::MappedFile::open(model, where);  // the checked open: a FIFO must not hang Load
    const auto status = t.sp_->LoadFromSerializedProto(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    check(status.ok(), where, "cannot load '", model.string(), "': ", status.ToString());

    // Defaults of transformers' GemmaTokenizer, overridden by the folder's json files.
    std::string bos = "<bos>", eos = "<eos>", pad = "<pad>", unk = "<unk>";
    io::JsonConfig cfg, special;
    const bool has_cfg = present(dir / "tokenizer_config.json");
    const bool has_special = present(dir / "special_tokens_map.json");
    if (has_special) special = io::JsonConfig::load(dir / "special_tokens_map.json", "tokenizer/special_tokens_map.json");
    if (has_cfg) cfg = io::JsonConfig::load(dir / "tokenizer_config.json", "tokenizer/tokenizer_config.json");
    auto token_string = [](const io::JsonConfig& j, const char* key, std::string& value) {
      if (!j.contains(key)) return;
      const auto& v = j.json()[key];
      if (v.is_string()) value = v.get<std::string>();
      else if (v.is_object() && v.contains("content") && v["content"].is_string()) value = v["content"].get<std::string>();
      else if (!v.is_null()) fail(j.name(), "'", key, "' must be a string or an object with 'content'");
    };
    for (const io::JsonConfig* j : {has_special ? &special : nullptr, has_cfg ? &cfg : nullptr}) {
      if (!j) continue;
      token_string(*j, "bos_token", bos);
      token_string(*j, "eos_token", eos);
      token_string(*j, "pad_token", pad);
      token_string(*j, "unk_token", unk);
    }
    if (has_cfg) {
      t.add_bos_ = cfg.get_or<bool>("add_bos_token", true);
      t.add_eos_ = cfg.get_or<bool>("add_eos_token", false);
      if (cfg.contains("added_tokens_decoder") && cfg.json()["added_tokens_decoder"].is_object()) {
        for (const auto& [id_text, tok] : cfg.json()["added_tokens_decoder"].items()) {
          check(tok.is_object() && tok.contains("content") && tok["content"].is_string(), cfg.name(),
                "added_tokens_decoder['", id_text, "'] has no string 'content'");
          const std::string content = tok["content"].get<std::string>();
          const auto parsed = parse_number<std::int64_t>(id_text);
          check(parsed.has_value(), cfg.name(), "added_tokens_decoder key '", id_text, "' is not a token id");
          const std::int64_t id = *parsed;
          check(id >= 0 && id < t.vocab_size(), cfg.name(), "added token '", content, "' has id ", id,
                " outside the vocabulary of ", t.vocab_size());
          if (!content.empty()) t.added_.emplace_back(content, id);
        }
      }
    }
    // Longest first, so the scan below matches like transformers' trie (longest added token at each position).
    std::sort(t.added_.begin(), t.added_.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    t.bos_id_ = t.piece_id(bos, "bos_token");
    t.eos_id_ = t.piece_id(eos, "eos_token");
    t.pad_id_ = t.piece_id(pad, "pad_token");
    t.unk_id_ = t.piece_id(unk, "unk_token");
    return t;
  }

  std::int64_t vocab_size() const { return sp_->GetPieceSize(); }
  std::int64_t bos_id() const { return bos_id_; }
  std::int64_t eos_id() const { return eos_id_; }
  std::int64_t pad_id() const { return pad_id_; }
  std::int64_t unk_id() const { return unk_id_; }
  std::string piece(std::int64_t id) const { return sp_->IdToPiece(static_cast<int>(id)); }

  /// Ids of `text` (no special tokens added); added tokens written in the text map to their ids.
  std::vector<std::int64_t> encode_plain(std::string_view text) const {
    std::vector<std::int64_t> out;
    std::size_t start = 0, i = 0;
    auto flush = [&](std::size_t end) {
      if (end <= start) return;
      std::vector<int> ids;
      const auto status = sp_->Encode(text.substr(start, end - start), &ids);
      check(status.ok(), "tokenizer", "SentencePiece failed: ", status.ToString());
      out.insert(out.end(), ids.begin(), ids.end());
    };
    while (i < text.size()) {
      const auto* hit = match_added(text, i);
      if (!hit) {
        ++i;
        continue;
      }
      flush(i);
      out.push_back(hit->second);
      i += hit->first.size();
      start = i;
    }
    flush(text.size());
    return out;
  }

  /// `tokenizer.encode(text)`: BOS (and EOS if the config asks) around the plain ids.
  std::vector<std::int64_t> encode(std::string_view text) const {
    std::vector<std::int64_t> ids;
    if (add_bos_) ids.push_back(bos_id_);
    const auto body = encode_plain(text);
    ids.insert(ids.end(), body.begin(), body.end());
    if (add_eos_) ids.push_back(eos_id_);
    return ids;
  }

  /// `tokenizer(texts, padding="max_length", max_length=max_length, truncation=True, add_special_tokens=True)`
  /// with padding_side="right": every row has exactly max_length ids.
  TokenBatch tokenize(std::span<const std::string> texts, std::int64_t max_length) const {
    check(max_length >= 1, "tokenizer", "max_length must be at least 1, got ", max_length);
    TokenBatch b;
    b.rows = static_cast<std::int64_t>(texts.size());
    b.length = max_length;
    b.ids.assign(static_cast<std::size_t>(b.rows * max_length), pad_id_);
    b.mask.assign(static_cast<std::size_t>(b.rows * max_length), 0);
    for (std::int64_t r = 0; r < b.rows; ++r) {
      auto body = encode_plain(texts[r]);
      // Truncation keeps room for the special tokens, as transformers does.
      const std::int64_t specials = (add_bos_ ? 1 : 0) + (add_eos_ ? 1 : 0);
      const std::int64_t keep =
          std::max<std::int64_t>(0, std::min<std::int64_t>(static_cast<std::int64_t>(body.size()), max_length - specials));
      body.resize(static_cast<std::size_t>(keep));
      std::vector<std::int64_t> row;
      if (add_bos_) row.push_back(bos_id_);
      row.insert(row.end(), body.begin(), body.end());
      if (add_eos_) row.push_back(eos_id_);
      if (static_cast<std::int64_t>(row.size()) > max_length) row.resize(static_cast<std::size_t>(max_length));
      for (std::size_t i = 0; i < row.size(); ++i) {
        b.ids[static_cast<std::size_t>(r * max_length) + i] = row[i];
        b.mask[static_cast<std::size_t>(r * max_length) + i] = 1;
      }
    }
    return b;
  }

private:
  GemmaTokenizer() = default;

  std::int64_t piece_id(const std::string& piece, const char* what) const {
    for (const auto& [content, id] : added_)
      if (content == piece) return id;
    const int id = sp_->PieceToId(piece);
    check(sp_->IdToPiece(id) == piece, "tokenizer", what, " '", piece, "' is not in tokenizer.model");
    return id;
  }

  const std::pair<std::string, std::int64_t>* match_added(std::string_view text, std::size_t i) const {
    for (const auto& a : added_)
      if (text.compare(i, a.first.size(), a.first) == 0) return &a;
    return nullptr;
  }

  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::vector<std::pair<std::string, std::int64_t>> added_;
  bool add_bos_ = true, add_eos_ = false;
  std::int64_t bos_id_ = 2, eos_id_ = 1, pad_id_ = 0, unk_id_ = 3;
};

} // namespace text
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
