/// @file
/// Prompt lists for batch generation: a text file with one prompt per line, or a JSON file with a
/// list of objects ({"prompt": ..., optional "negative_prompt", "seed", "width", "height", "steps",
/// "cfg_scale", "name"}), the two forms NVlabs' inference scripts take. Hostile input gets an error
/// naming the file and the line or entry; nothing is silently skipped except blank lines.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sana/core/error.hpp"
#include "sana/core/utf8.hpp"
#include "sana/io/mapped_file.hpp"

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
};

/// Largest prompt file we read.
inline constexpr std::uint64_t max_prompt_file_bytes = 100'000'000;

namespace detail {
inline std::string read_text_file(const std::string& path) { return io::read_file(path, path, max_prompt_file_bytes); }
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
    check(valid_utf8(line), file, "line ", line_no, " is not valid UTF-8");
    check(line.find('\0') == std::string_view::npos, file, "line ", line_no, " contains a NUL byte");
    if (line.find_first_not_of(" \t\v\f") != std::string_view::npos) {
      PromptJob job;
      job.prompt = std::string(line);
      jobs.push_back(std::move(job));
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  check(!jobs.empty(), file, "no prompts (every line is blank)");
  return jobs;
}

/// A JSON list of objects with at least "prompt"; unknown keys are errors (they are usually typos).
inline std::vector<PromptJob> parse_prompt_json(std::string_view text, const std::string& file) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
    fail(file, "not valid JSON: ", e.what());
  }
  check(doc.is_array(), file, "expected a JSON list of objects, got ", doc.type_name());
  std::vector<PromptJob> jobs;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& e = doc[i];
    check(e.is_object(), file, "entry ", i, " is a ", e.type_name(), ", expected an object with \"prompt\"");
    PromptJob job;
    bool has_prompt = false;
    for (const auto& item : e.items()) {
      const std::string& key = item.key();  // named, not a structured binding: lambdas may capture it (clang < 16)
      const nlohmann::json& v = item.value();
      auto need = [&](bool ok, const char* what) { check(ok, file, "entry ", i, ": \"", key, "\" must be ", what); };
      if (key == "prompt") {
        need(v.is_string(), "a string");
        job.prompt = v.get<std::string>();
        has_prompt = true;
      } else if (key == "negative_prompt") {
        need(v.is_string(), "a string");
        job.negative_prompt = v.get<std::string>();
      } else if (key == "name") {
        need(v.is_string(), "a string");
        job.name = v.get<std::string>();
      } else if (key == "seed") {
        need(v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0), "a non-negative integer");
        job.seed = v.get<std::uint64_t>();
      } else if (key == "width" || key == "height" || key == "steps") {
        need(v.is_number_integer() && v.get<std::int64_t>() > 0, "a positive integer");
        (key == "width" ? job.width : key == "height" ? job.height : job.steps) = v.get<std::int64_t>();
      } else if (key == "cfg_scale") {
        need(v.is_number(), "a number");
        job.cfg_scale = v.get<double>();
      } else {
        fail(file, "entry ", i, ": unknown key \"", key,
             "\" (known: prompt, negative_prompt, seed, width, height, steps, cfg_scale, name)");
      }
    }
    check(has_prompt, file, "entry ", i, " has no \"prompt\"");
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
