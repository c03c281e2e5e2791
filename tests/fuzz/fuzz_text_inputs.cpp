// libFuzzer target for the text inputs a user hands us: prompt files (lines and JSON) and the JSON
// configs of a model folder (scheduler, transformer, DC-AE, Gemma-2, model_index.json), and numbers as typed on a command
// line (sana::parse_number, which must round-trip what it accepts). The first byte picks the parser,
// the rest is the file. Every input must parse or be rejected with sana::error; any other exception,
// a sanitizer report or a crash is a bug.
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>
#include <typeinfo>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "sana/core/number.hpp"
#include "sana/dcae/config.hpp"
#include "sana/dit/config.hpp"
#include "sana/pipeline/model_index.hpp"
#include "sana/pipeline/prompt_file.hpp"
#include "sana/pipeline/scheduler_config.hpp"
#include "sana/text/gemma2.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 9) {
      case 0: (void)sana::pipeline::parse_prompt_lines(text, "fuzz.txt"); break;
      case 1: (void)sana::pipeline::parse_prompt_json(text, "fuzz.json"); break;
      case 2:
        (void)sana::pipeline::SchedulerSettings::from_json(
            sana::pipeline::parse_scheduler_config(text, "scheduler_config.json"));
        break;
      case 3: {
        auto c = sana::dit::TransformerConfig::from_json(sana::io::JsonConfig::parse(text, "transformer/config.json"));
        c.validate();
        break;
      }
      case 4: (void)sana::dcae::Config::from_json(sana::io::JsonConfig::parse(text, "vae/config.json")); break;
      case 6:
        if (const auto v = sana::parse_number<std::int64_t>(text))
          if (std::to_string(*v) != text && !(text.size() > 1 && (text[0] == '0' || text.starts_with("-0")))) std::abort();
        break;
      case 7:
        if (const auto v = sana::parse_number<double>(text); v && !std::isfinite(*v)) std::abort();
        (void)sana::parse_number<std::uint64_t>(text);
        break;
      case 8: (void)sana::pipeline::check_model_index(sana::io::JsonConfig::parse(text, "model_index.json")); break;
      default:
        (void)sana::text::Gemma2Config::from_json(sana::io::JsonConfig::parse(text, "text_encoder/config.json"));
    }
  } catch (const sana::error&) {
    // rejected with a message: fine
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  return 0;
}
