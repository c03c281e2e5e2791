/// @file
/// Prompt lists for batch generation: a text file with one prompt per line, or a JSON file with a
/// list of objects ({"prompt": ..., optional "negative_prompt", "seed", "width", "height", "steps",
/// "cfg_scale", "name"}), the two forms NVlabs' inference scripts take. Hostile input gets an error
/// naming the file and the line or entry; nothing is silently skipped except blank lines.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sana/core/error.hpp"
#include "sana/core/utf8.hpp"
#include "sana/io/json_file.hpp"
#include "sana/io/mapped_file.hpp"
#include "sana/pipeline/limits.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace pipeline {

/// One job of a batch; unset fields take the command-line values.
struct PromptJob {
  std::string prompt;
  std::optional<std::string> negative_prompt;
  std::optional<std::uint64_t> seed;
  std::optional<std::int64_t> width, height, steps;
  std::optional<double> cfg_scale;
  std::optional<std::string> name;
  std::string source;  ///< where it came from, for messages: "FILE line 3", "FILE entry 2"
};

/// Largest prompt file we read.
inline constexpr std::uint64_t max_prompt_file_bytes = 100'000'000;

namespace detail {
inline std::string read_text_file(const std::string& path) { return io::read_file(path, path, max_prompt_file_bytes); }
/// A prompt text from a file: UTF-8, no NUL, at most max_prompt_bytes.
inline void check_prompt_text(std::string_view text, const std::string& file, const std::string& where) {
  check(valid_utf8(text), file, where, " is not valid UTF-8");
  check(text.find('\0') == std::string_view::npos, file, where, " contains a NUL byte");
  check(text.size() <= max_prompt_bytes, file, where, " is ", text.size(), " bytes, above the limit of ",
        max_prompt_bytes);
}

/// An output name: one plain file name (no directory part, no leading '.', no NUL), short enough that
/// "NAME_123.png" fits a file-system name (255 bytes).
inline void check_output_name(const std::string& name, const std::string& file, std::size_t entry) {
  check(!name.empty(), file, "entry ", entry, ": \"name\" is empty");
  check(name.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos, file, "entry ", entry, ": \"name\" ",
        io::detail::quote_name(name), " must be a file name without '/', '\\' or NUL (it is written inside the output directory)");
  check(name[0] != '.', file, "entry ", entry, ": \"name\" ", io::detail::quote_name(name),
        " must not start with '.' (hidden files, '..')");
  check(valid_utf8(name), file, "entry ", entry, ": \"name\" is not valid UTF-8");
  check(name.size() <= 240, file, "entry ", entry, ": \"name\" is ", name.size(), " bytes, above 240");
}
} // namespace detail

/// One prompt per line ('\n' or "\r\n"); blank or whitespace-only lines are skipped. A line that is
/// not UTF-8 or holds a NUL is an error naming the line.
inline std::vector<PromptJob> parse_prompt_lines(std::string_view text, const std::string& file) {
  std::vector<PromptJob> jobs;
  std::size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    detail::check_prompt_text(line, file, "line " + std::to_string(line_no));
    if (line.find_first_not_of(" \t\v\f") != std::string_view::npos) {
      PromptJob job;
      job.prompt = std::string(line);
      job.source = file + " line " + std::to_string(line_no);
      jobs.push_back(std::move(job));
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  check(!jobs.empty(), file, "no prompts (every line is blank)");
  return jobs;
}

/// A JSON list of objects with at least "prompt"; unknown keys are errors (they are usually typos), as are
/// duplicate keys, values out of the request limits (limits.hpp) and names that are not plain, unique file names.
inline std::vector<PromptJob> parse_prompt_json(std::string_view text, const std::string& file) {
  const nlohmann::json doc = io::parse_json(text, file);
  check(doc.is_array(), file, "expected a JSON list of objects, got ", io::detail::json_kind(doc));
  std::vector<PromptJob> jobs;
  std::map<std::string, std::size_t> names;  // name → entry, for duplicates
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& e = doc[i];
    check(e.is_object(), file, "entry ", i, " is ", io::detail::json_kind(e), ", expected an object with \"prompt\"");
    const std::string at = "entry " + std::to_string(i);
    auto need = [&](bool ok, const std::string& key, const char* what, const nlohmann::json& v) {
      check(ok, file, at, ": \"", key, "\" must be ", what, ", got ", io::detail::json_excerpt(v));
    };
    auto integer = [&](const std::string& key, const nlohmann::json& v, std::int64_t lo, std::int64_t hi) {
      need(v.is_number_integer(), key, "an integer", v);
      const bool big = v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi);
      const std::int64_t n = big ? hi : v.get<std::int64_t>();
      check(!big && n >= lo && n <= hi, file, at, ": \"", key, "\" must be in [", lo, ", ", hi, "], got ",
            io::detail::json_excerpt(v));
      return n;
    };
    PromptJob job;
    bool has_prompt = false;
    for (const auto& item : e.items()) {
      const std::string& key = item.key();  // named, not a structured binding: lambdas may capture it (clang < 16)
      const nlohmann::json& v = item.value();
      const std::string where = at + ": \"" + key + "\"";
      if (key == "prompt" || key == "negative_prompt" || key == "name") {
        need(v.is_string(), key, "a string", v);
        std::string t = v.get<std::string>();
        if (key == "name") detail::check_output_name(t, file, i);
        else detail::check_prompt_text(t, file, where);
        (key == "prompt" ? (has_prompt = true, job.prompt) : key == "name" ? job.name.emplace() : job.negative_prompt.emplace()) =
            std::move(t);
      } else if (key == "seed") {
        need(v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0), key,
             "a non-negative integer", v);
        job.seed = v.get<std::uint64_t>();
      } else if (key == "width" || key == "height") {
        (key == "width" ? job.width : job.height) = integer(key, v, 32, max_image_side);
        check(*(key == "width" ? job.width : job.height) % 32 == 0, file, where, " must be a multiple of 32, got ",
              *(key == "width" ? job.width : job.height));
      } else if (key == "steps") {
        job.steps = integer(key, v, 1, max_steps);
      } else if (key == "cfg_scale") {
        need(v.is_number(), key, "a number", v);
        job.cfg_scale = v.get<double>();
        check(std::abs(*job.cfg_scale) <= max_guidance_scale, file, where, " must be in [", -max_guidance_scale, ", ",
              max_guidance_scale, "], got ", *job.cfg_scale);
      } else {
        fail(file, at, ": unknown key \"", key,
             "\" (known: prompt, negative_prompt, seed, width, height, steps, cfg_scale, name)");
      }
    }
    check(has_prompt, file, at, " has no \"prompt\"");
    job.source = file + " " + at;
    if (job.name) {
      const auto [it, fresh] = names.emplace(*job.name, i);
      check(fresh, file, at, ": \"name\" ", io::detail::quote_name(*job.name), " is already used by entry ", it->second);
    }
    jobs.push_back(std::move(job));
  }
  check(!jobs.empty(), file, "the list is empty");
  return jobs;
}

inline std::vector<PromptJob> read_prompt_lines(const std::string& path) {
  return parse_prompt_lines(detail::read_text_file(path), path);
}
inline std::vector<PromptJob> read_prompt_json(const std::string& path) {
  return parse_prompt_json(detail::read_text_file(path), path);
}

} // namespace pipeline
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
