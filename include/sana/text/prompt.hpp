/// @file
/// Prompt text processing as diffusers' SanaPipeline does it, before tokenization: `prompt.lower().strip()`
/// (Python's Unicode semantics), the default complex human instruction (CHI), and the token window arithmetic
/// (`max_length = n_chi + max_sequence_length − 2`, keep index 0 and the last max_sequence_length − 1).
/// Free of SentencePiece: the tokenizer lives in tokenizer.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/core/utf8.hpp"
#include "sana/text/lowercase_table.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace text {

/// diffusers' default `complex_human_instruction` (pipeline_sana.py), joined with "\n" before the prompt.
inline std::vector<std::string> default_complex_human_instruction() {
  return {
      "Given a user prompt, generate an 'Enhanced prompt' that provides detailed visual descriptions suitable for image "
      "generation. Evaluate the level of detail in the user prompt:",
      "- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial "
      "relationships to create vivid and concrete scenes.",
      "- If the prompt is already detailed, refine and enhance the existing details slightly without overcomplicating.",
      "Here are examples of how to transform or refine prompts:",
      "- User Prompt: A cat sleeping -> Enhanced: A small, fluffy white cat curled up in a round shape, sleeping "
      "peacefully on a warm sunny windowsill, surrounded by pots of blooming red flowers.",
      "- User Prompt: A busy city street -> Enhanced: A bustling city street scene at dusk, featuring glowing street "
      "lamps, a diverse crowd of people in colorful clothing, and a double-decker bus passing by towering glass "
      "skyscrapers.",
      "Please generate only the enhanced description for the prompt below and avoid including any additional "
      "commentary or evaluations:",
      "User Prompt: ",
  };
}

/// "\n".join(lines).
inline std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) s += '\n';
    s += lines[i];
  }
  return s;
}

namespace detail {
/// Decodes the UTF-8 code point at s[i] and sets `len` to its byte count; a byte that starts no valid sequence
/// gives 0xFFFFFFFF with len 1, and callers copy it through unchanged.
inline char32_t next_code_point(std::string_view s, std::size_t& i, std::size_t& len) {
  auto byte = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k])); };
  auto cont = [&](std::size_t k) { return i + k < s.size() && (byte(k) & 0xC0) == 0x80; };
  const char32_t b0 = byte(0);
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  if ((b0 & 0xE0) == 0xC0 && cont(1)) {
    len = 2;
    return ((b0 & 0x1F) << 6) | (byte(1) & 0x3F);
  }
  if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
    len = 3;
    return ((b0 & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
  }
  if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    len = 4;
    return ((b0 & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
  }
  len = 1;
  return 0xFFFFFFFFu;  // not a code point: copied through as the raw byte
}

inline void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

/// Python's str.lower() for one code point (single-code-point mappings; see lowercase_table.hpp).
inline char32_t lower_code_point(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  for (const auto& r : kLowercaseRuns) {
    if (c < r.first) break;  // runs are sorted
    if (c <= r.last && (c - r.first) % r.step == 0) return static_cast<char32_t>(static_cast<std::int32_t>(c) + r.delta);
  }
  return c;
}

/// Python's str.isspace().
inline bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
} // namespace detail

/// Python's `s.lower()` for UTF-8 text (Unicode 14 case mappings, as Python 3.11).
inline std::string python_lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = 1;
    const char32_t c = detail::next_code_point(s, i, len);
    if (c == 0xFFFFFFFFu) {
      out += s[i];
    } else if (c == 0x130) {  // 'İ' lowers to 'i' + combining dot above, as in Python
      out += "i\xCC\x87";
    } else {
      detail::append_utf8(out, detail::lower_code_point(c));
    }
    i += len;
  }
  return out;
}

/// Python's `s.strip()` (Unicode whitespace at both ends).
inline std::string python_strip(std::string_view s) {
  std::size_t begin = 0, end = s.size();
  while (begin < end) {
    std::size_t len = 1;
    const char32_t c = detail::next_code_point(s, begin, len);
    if (c == 0xFFFFFFFFu || !detail::is_python_space(c)) break;
    begin += len;
  }
  while (end > begin) {
    std::size_t start = end - 1;  // back up to the lead byte of the last code point
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    std::size_t len = 1;
    const char32_t c = detail::next_code_point(s, start, len);
    if (c == 0xFFFFFFFFu || start + len != end || !detail::is_python_space(c)) break;
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

/// diffusers `_text_preprocessing` with clean_caption=False: `text.lower().strip()`. The prompt must be
/// valid UTF-8 (a Python str always is).
inline std::string preprocess_prompt(std::string_view prompt) {
  check(valid_utf8(prompt), "prompt", "prompt is not valid UTF-8");
  return python_strip(python_lower(prompt));
}

/// Token window of SanaPipeline._get_gemma_prompt_embeds: the tokenizer's max_length for a prompt.
/// With CHI (chi_tokens = len(tokenizer.encode(chi)), BOS included): chi_tokens + max_sequence_length − 2.
inline std::int64_t token_budget(std::int64_t max_sequence_length, std::int64_t chi_tokens /* 0: no CHI */) {
  check(max_sequence_length >= 1, "prompt", "max_sequence_length must be at least 1, got ", max_sequence_length);
  return chi_tokens > 0 ? chi_tokens + max_sequence_length - 2 : max_sequence_length;
}

/// encode_prompt's select_index = [0] + range(−max_sequence_length + 1, 0) resolved against `length`.
inline std::vector<std::int64_t> select_index(std::int64_t length, std::int64_t max_sequence_length) {
  check(length >= max_sequence_length - 1 && max_sequence_length >= 1, "prompt", "token window ", length,
        " is shorter than max_sequence_length − 1 = ", max_sequence_length - 1);
  std::vector<std::int64_t> idx{0};
  for (std::int64_t i = length - max_sequence_length + 1; i < length; ++i) idx.push_back(i);
  return idx;
}

} // namespace text
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
