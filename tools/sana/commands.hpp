/// @file
/// Subcommands of the `sana` tool. Adding one: write `int cmd_<name>(std::span<const
/// std::string_view> args)` in cmd_<name>.cpp, declare it here, add one row to the table in
/// main.cpp. Exit codes: 0 success, 1 runtime failure, 2 usage error (message on stderr).
#pragma once

#include <span>
#include <string_view>

namespace sana_cli {

/// `sana schedule`: prints a sampler's timesteps and sigmas as JSON.
int cmd_schedule(std::span<const std::string_view> args);

/// `sana encode`: prompts -> text-encoder embeddings and masks (safetensors), token ids printed.
int cmd_encode(std::span<const std::string_view> args);

/// `sana dit-run`: loads a transformer/ folder, runs one forward on inputs from a safetensors file,
/// writes the output and compares it with an "output" in the inputs (docs/dit.md).
int cmd_dit_run(std::span<const std::string_view> args);
/// `sana generate`: prompts -> PNG images through the Sana pipeline.
int cmd_generate(std::span<const std::string_view> args);

/// `sana decode VAE_DIR LATENTS`: the DC-AE decoder alone (docs/dcae.md).
int cmd_decode(std::span<const std::string_view> args);
/// `sana encode-image VAE_DIR IMAGE.png --out FILE`: the DC-AE encoder alone.
int cmd_encode_image(std::span<const std::string_view> args);
/// `sana info DIR`: components, configs, dtypes and parameter counts of a diffusers Sana folder.
int cmd_info(std::span<const std::string_view> args);

} // namespace sana_cli
