/// @file
/// 8-bit RGB PNG writing with tEXt chunks, atomic (temporary file beside the target, fsync, rename), so a
/// failed write never leaves a partial image. Needs libpng (link PNG::PNG).
#pragma once

#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

/// Writes `rgb` (height, width, 3) to `path` with one tEXt chunk per (keyword, text) pair.
inline void write_png(const std::filesystem::path& path, std::span<const std::uint8_t> rgb, std::int64_t width,
                      std::int64_t height, const std::vector<std::pair<std::string, std::string>>& text = {}) {
  namespace fs = std::filesystem;
  check(width > 0 && height > 0 && static_cast<std::int64_t>(rgb.size()) == width * height * 3, path.string(),
        "PNG data of ", rgb.size(), " bytes does not fit ", width, "x", height, " RGB");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  check(fs::is_directory(dir), path.string(), "cannot write: directory '", dir.string(), "' does not exist");
  std::string tmpl = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  const int fd = mkstemp(tmpl.data());
  check(fd >= 0, path.string(), "cannot write: no permission to create a file in '", dir.string(), "'");
  const mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);  // mkstemp creates 0600; give the PNG ordinary file permissions
  FILE* f = fdopen(fd, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  // libpng keeps pointers to the chunk strings until png_write_info; they live in `text` and `keys`.
  std::vector<png_text> chunks(text.size());
  std::vector<std::string> keys;
  keys.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    keys.push_back(text[i].first.substr(0, 79));  // PNG keywords are 1–79 bytes
    chunks[i].compression = PNG_TEXT_COMPRESSION_NONE;
    chunks[i].key = keys.back().data();
    chunks[i].text = const_cast<char*>(text[i].second.c_str());
    chunks[i].text_length = text[i].second.size();
  }
  bool ok = f && png && info;
  if (ok && setjmp(png_jmpbuf(png))) ok = false;
  else if (ok) {
    png_init_io(png, f);
    png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (!chunks.empty()) png_set_text(png, info, chunks.data(), static_cast<int>(chunks.size()));
    png_write_info(png, info);
    for (std::int64_t y = 0; y < height; ++y)
      png_write_row(png, const_cast<png_bytep>(&rgb[static_cast<std::size_t>(y * width * 3)]));
    png_write_end(png, nullptr);
  }
  if (png) png_destroy_write_struct(&png, info ? &info : nullptr);
  if (f) {
    ok = ok && std::fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (std::fclose(f) == 0) && ok;
  } else {
    ::close(fd);
  }
  std::error_code ec;
  if (ok) fs::rename(tmpl, path, ec);
  if (!ok || ec) {
    std::remove(tmpl.c_str());
    fail(path.string(), "writing the PNG failed", ec ? ": " + ec.message() : std::string());
  }
}

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
