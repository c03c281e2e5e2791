// `sana <command> [flags]`: dispatches to the subcommands listed in `commands`.
#include <cstdio>
#include <span>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "sana/io/atomic_file.hpp"

namespace {

struct Command {
  std::string_view name;
  std::string_view summary;
  int (*run)(std::span<const std::string_view>);
};

constexpr Command commands[] = {
    {"schedule", "print a sampler's timesteps and sigmas as JSON", sana_cli::cmd_schedule},
    {"dit-run", "one transformer forward from a safetensors file (compare with diffusers)", sana_cli::cmd_dit_run},
#ifdef SANA_CLI_WITH_PNG
    {"decode", "DC-AE decode: latents (safetensors) to images (PNG / safetensors)", sana_cli::cmd_decode},
    {"encode-image", "DC-AE encode: a PNG to latents (safetensors)", sana_cli::cmd_encode_image},
#endif
#ifdef SANA_CLI_WITH_TEXT
#ifdef SANA_CLI_WITH_GENERATE
    {"generate", "text to image: prompts in, PNGs out (sana generate --help)", sana_cli::cmd_generate},
    {"info", "describe a diffusers Sana folder (components, configs, dtypes, parameter counts)", sana_cli::cmd_info},
#endif
    {"encode", "encode prompts with the Gemma-2 text encoder (embeddings + masks as safetensors)", sana_cli::cmd_encode},
#endif
};

void usage(std::FILE* out) {
  std::fprintf(out, "usage: sana <command> [flags]   (sana <command> --help for its flags)\n\ncommands:\n");
  for (const auto& c : commands)
    std::fprintf(out, "  %-12.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
}

} // namespace

int main(int argc, char** argv) {
  sana::io::remove_temporaries_on_signal();  // an interrupted write leaves no .NAME.XXXXXX behind
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(stdout);
    return 0;
  }
  const std::vector<std::string_view> args(argv + 2, argv + argc);
  for (const auto& c : commands)
    if (c.name == name) return c.run(args);
  std::fprintf(stderr, "sana: unknown command '%s' (try sana --help)\n", argv[1]);
  return 2;
}
